/**
 * A small, strict reader of the Prometheus text exposition format 0.0.4 (what a Prometheus server
 * scrapes), for tests: it throws on anything a scraper would reject or that the format does not
 * allow (a sample without its TYPE, a malformed name, label or value, a duplicate series, histogram
 * buckets that are not cumulative or disagree with `_count`). prom-client's own registry is the
 * writer under test, so it cannot also be the reader.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string | null;
  samples: Sample[];
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const types = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export class PrometheusText {
  readonly families = new Map<string, MetricFamily>();

  constructor(text: string) {
    if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition does not end with a line feed');
    const seriesSeen = new Set<string>();
    text.split('\n').forEach((line, index) => {
      const where = `line ${index + 1} ("${line.slice(0, 80)}")`;
      if (line === '') return;
      if (line.startsWith('#')) return this.readComment(line, where);
      const sample = readSample(line, where);
      const family = this.familyOf(sample.name);
      if (!family) throw new Error(`${where}: a sample of ${sample.name} before its # TYPE line`);
      const series = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
      if (seriesSeen.has(series)) throw new Error(`${where}: the series ${series} appears twice`);
      seriesSeen.add(series);
      family.samples.push(sample);
    });
    for (const family of this.families.values()) if (family.type === 'histogram') checkHistogram(family);
  }

  private readComment(line: string, where: string): void {
    const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (!match) return; // Other comments are allowed and mean nothing.
    const [, keyword, name, rest] = match as unknown as [string, 'HELP' | 'TYPE', string, string];
    if (!metricName.test(name)) throw new Error(`${where}: "${name}" is not a metric name`);
    const family = this.families.get(name) ?? { name, type: 'untyped' as const, help: null, samples: [] };
    if (keyword === 'TYPE') {
      if (!types.has(rest)) throw new Error(`${where}: "${rest}" is not a metric type`);
      if (this.families.has(name) && family.samples.length > 0) throw new Error(`${where}: # TYPE after samples of ${name}`);
      family.type = rest as MetricFamily['type'];
    } else {
      if (family.help !== null) throw new Error(`${where}: a second # HELP for ${name}`);
      family.help = rest;
    }
    this.families.set(name, family);
  }

  private familyOf(sampleName: string): MetricFamily | undefined {
    const exact = this.families.get(sampleName);
    if (exact) return exact;
    for (const suffix of ['_bucket', '_sum', '_count']) {
      if (!sampleName.endsWith(suffix)) continue;
      const family = this.families.get(sampleName.slice(0, -suffix.length));
      if (family && (family.type === 'histogram' || (family.type === 'summary' && suffix !== '_bucket'))) return family;
    }
    return undefined;
  }

  /** The value of the one sample with exactly these labels, or undefined. */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    return this.samples(name).find((sample) => sameLabels(sample.labels, labels))?.value;
  }

  /** Every sample of that exact sample name (`x_bucket`, `x_count`, or a counter's own name). */
  samples(name: string): Sample[] {
    return this.familyOf(name)?.samples.filter((sample) => sample.name === name) ?? [];
  }
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

function readSample(line: string, where: string): Sample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) throw new Error(`${where}: no metric name`);
  const name = nameMatch[0];
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    rest = rest.slice(1);
    while (!rest.startsWith('}')) {
      const label = /^([^=]*)="/.exec(rest);
      if (!label || !labelName.test(label[1]!)) throw new Error(`${where}: a malformed label`);
      rest = rest.slice(label[0].length);
      let value = '';
      for (;;) {
        const char = rest[0];
        if (char === undefined) throw new Error(`${where}: an unterminated label value`);
        rest = rest.slice(1);
        if (char === '"') break;
        if (char === '\\') {
          const escaped = rest[0];
          rest = rest.slice(1);
          if (escaped === 'n') value += '\n';
          else if (escaped === '\\' || escaped === '"') value += escaped;
          else throw new Error(`${where}: an escape \\${escaped} the format does not have`);
        } else if (char === '\n') {
          throw new Error(`${where}: a raw line feed in a label value`);
        } else value += char;
      }
      if (label[1]! in labels) throw new Error(`${where}: the label ${label[1]} twice`);
      labels[label[1]!] = value;
      if (rest.startsWith(',')) rest = rest.slice(1);
      else if (!rest.startsWith('}')) throw new Error(`${where}: labels not separated by a comma`);
    }
    rest = rest.slice(1);
  }
  const valueMatch = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
  if (!valueMatch) throw new Error(`${where}: not "name{labels} value [timestamp]"`);
  return { name, labels, value: readValue(valueMatch[1]!, where) };
}

/** A value as Prometheus reads it (Go's strconv.ParseFloat): NaN and ±Inf in any letter case. */
function readValue(raw: string, where: string): number {
  if (/^[+-]?(inf|infinity)$/i.test(raw)) return raw.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(raw)) return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) throw new Error(`${where}: "${raw}" is not a number`);
  return Number(raw);
}

/** Buckets are cumulative, end at +Inf, and the +Inf bucket holds `_count`, for every series. */
function checkHistogram(family: MetricFamily): void {
  const bySeries = new Map<string, { buckets: [number, number][]; count?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const series = bySeries.get(key) ?? { buckets: [] };
    bySeries.set(key, series);
    if (sample.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      series.buckets.push([readValue(le, `${family.name} le`), sample.value]);
    } else if (sample.name.endsWith('_count')) series.count = sample.value;
  }
  for (const [key, series] of bySeries) {
    const buckets = series.buckets.sort((a, b) => a[0] - b[0]);
    if (buckets.at(-1)?.[0] !== Infinity) throw new Error(`${family.name}${key}: no +Inf bucket`);
    buckets.forEach(([, count], index) => {
      if (index > 0 && count < buckets[index - 1]![1]) throw new Error(`${family.name}${key}: buckets that are not cumulative`);
    });
    if (buckets.at(-1)![1] !== series.count) throw new Error(`${family.name}${key}: the +Inf bucket differs from _count`);
  }
}
