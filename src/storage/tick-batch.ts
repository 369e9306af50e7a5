/**
 * Gathers the calls made in one turn of the event loop and runs them together at `setImmediate`, as
 * one statement: under load, the dozens of requests read in one turn then cost one round trip to
 * the database instead of one each. `run` returns one result per item, in order; if it fails,
 * every call of the batch fails with its error. A batch belongs to the database it writes to
 * (its dialect makes it when it opens the database), never to a module.
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
