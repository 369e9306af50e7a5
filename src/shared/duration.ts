const unitToMilliseconds = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export type DurationParseResult = { ok: true; milliseconds: number } | { ok: false; reason: string };

/** Reads `90s`, `15m`, `1h`, `7d`, `500ms` or `0` into milliseconds. */
export function parseDuration(text: string): DurationParseResult {
  const trimmed = text.trim();
  if (trimmed === '0') return { ok: true, milliseconds: 0 };
  const match = /^(\d{1,9})(ms|s|m|h|d)$/.exec(trimmed);
  if (!match) {
    return { ok: false, reason: `"${text}" is not a duration: write a whole number and a unit (ms, s, m, h or d), such as 90s, 15m or 1h` };
  }
  const unit = match[2] as keyof typeof unitToMilliseconds;
  return { ok: true, milliseconds: Number(match[1]) * unitToMilliseconds[unit] };
}

/** Writes milliseconds back in the largest whole unit: 900000 → `15m`. */
export function formatDuration(milliseconds: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = unitToMilliseconds[unit];
    if (milliseconds >= size && milliseconds % size === 0) return `${milliseconds / size}${unit}`;
  }
  return `${milliseconds}ms`;
}

/** A unit of time in a language's own words and plural (`Intl`, CLDR): `2 Minuten`, `1 minute`; `1050 seconds`, not `1,050`. */
function formatUnit(count: number, unit: 'day' | 'hour' | 'minute' | 'second', locale: string): string {
  return new Intl.NumberFormat(locale, { style: 'unit', unit, unitDisplay: 'long', useGrouping: false }).format(count);
}

/**
 * Human words for a lifetime, for emails and pages, in `locale`: 900000 → `15 minutes`, 90000 →
 * `90 seconds`. Never rounds up: the text must not promise a link more time than it has.
 */
export function describeDuration(milliseconds: number, locale = 'en'): string {
  if (milliseconds >= 86_400_000 && milliseconds % 86_400_000 === 0) return formatUnit(milliseconds / 86_400_000, 'day', locale);
  if (milliseconds >= 3_600_000 && milliseconds % 3_600_000 === 0) return formatUnit(milliseconds / 3_600_000, 'hour', locale);
  if (milliseconds >= 60_000 && milliseconds % 60_000 === 0) return formatUnit(milliseconds / 60_000, 'minute', locale);
  return formatUnit(Math.max(1, Math.floor(milliseconds / 1000)), 'second', locale);
}

/**
 * Human words for a wait, in whole seconds rounded up, in `locale`: 42_100 → `43 seconds`, 65_000
 * → `1 minute 5 seconds` (a list of units as CLDR writes one: `1 Minute, 5 Sekunden`). Never rounds
 * down: the text must not send someone back before they can get in. views/partials/countdown.eta
 * counts down in the same words, with the same `Intl` calls in the browser.
 */
export function describeWait(milliseconds: number, locale = 'en'): string {
  const seconds = waitSeconds(milliseconds);
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  if (minutes === 0) return formatUnit(rest, 'second', locale);
  if (rest === 0) return formatUnit(minutes, 'minute', locale);
  return new Intl.ListFormat(locale, { type: 'unit', style: 'narrow' }).format([formatUnit(minutes, 'minute', locale), formatUnit(rest, 'second', locale)]);
}

/** A wait in whole seconds, rounded up, at least 1. */
export function waitSeconds(milliseconds: number): number {
  return Math.max(1, Math.ceil(milliseconds / 1000));
}
