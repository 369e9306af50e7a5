/**
 * Gathers the calls made in one turn of the event loop and runs them together at `setImmediate`, as
 * one statement: under load, the dozens of requests read in one turn then cost one round trip to
 * the database instead of one each. `run` returns one result per item, in order; if it fails,
 * every call of the batch fails with its error.
 */
export class TickBatch<Item, Result> {
  #pending: { item: Item; resolve: (result: Result) => void; reject: (error: unknown) => void }[] = [];

  constructor(private readonly run: (items: Item[]) => Promise<Result[]>) {}

  add(item: Item): Promise<Result> {
    return new Promise((resolve, reject) => {
      if (this.#pending.length === 0) setImmediate(() => void this.#flush());
      this.#pending.push({ item, resolve, reject });
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    try {
      const results = await this.run(batch.map((call) => call.item));
      batch.forEach((call, index) => call.resolve(results[index]!));
    } catch (error) {
      for (const call of batch) call.reject(error);
    }
  }
}

const batchesByOwner = new WeakMap<object, Map<string, TickBatch<never, unknown>>>();

/** The batch called `name` of `owner` (a database), made on first use. */
export function tickBatchOf<Owner extends object, Item, Result>(owner: Owner, name: string, run: (owner: Owner, items: Item[]) => Promise<Result[]>): TickBatch<Item, Result> {
  let batches = batchesByOwner.get(owner);
  if (!batches) batchesByOwner.set(owner, (batches = new Map()));
  let batch = batches.get(name) as TickBatch<Item, Result> | undefined;
  if (!batch) batches.set(name, (batch = new TickBatch((items: Item[]) => run(owner, items))) as unknown as TickBatch<never, unknown>);
  return batch;
}
