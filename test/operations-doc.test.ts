import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PrometheusText } from './helpers/prometheus-text.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

/** The Prometheus rules docs/operations.md gives operators: its one yaml block. */
function rulesFromDoc(): string {
  const doc = readFileSync(new URL('../docs/operations.md', import.meta.url), 'utf8');
  const blocks = [...doc.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
  expect(blocks).toHaveLength(1);
  return blocks[0]!;
}

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

/**
 * promtool, from Debian's `prometheus` package, when installed. The suite does not install it: the
 * package is about 100 MB with its web assets, too much for a check of one file; without it the
 * structure and metric names are still checked here.
 */
function promtoolVersion(): string | null {
  const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return found.error || found.status !== 0 ? null : found.stdout.split('\n')[0]!;
}

describe('the alerts in docs/operations.md', () => {
  let server: TestPortico;
  beforeAll(async () => {
    server = await startTestPortico({ dialect: 'sqlite', env: { METRICS_PORT: '0' } });
  });
  afterAll(async () => {
    await server.stop({ dropDatabase: true });
  });

  it('are Prometheus alerting rules with a severity, a summary and a description each', () => {
    const rules = parse(rulesFromDoc(), { strict: true, uniqueKeys: true }) as { groups: { name: string; rules: AlertRule[] }[] };
    expect(rules.groups).toHaveLength(1);
    const alerts = rules.groups[0]!.rules;
    expect(alerts.map((rule) => rule.alert)).toEqual(
      expect.arrayContaining(['PorticoMailStuck', 'PorticoSmtpFailing', 'PorticoLinkRefusalSpike', 'PorticoCodeRefusalSpike', 'PorticoServerErrors']),
    );
    expect(new Set(alerts.map((rule) => rule.alert)).size).toBe(alerts.length);
    for (const rule of alerts) {
      expect(Object.keys(rule).sort(), rule.alert).toEqual(expect.arrayContaining(['alert', 'annotations', 'expr', 'labels']));
      expect(typeof rule.expr, rule.alert).toBe('string');
      if (rule.for !== undefined) expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
      expect(['page', 'ticket'], rule.alert).toContain(rule.labels.severity);
      expect(rule.annotations.summary.length, rule.alert).toBeGreaterThan(0);
      expect(rule.annotations.description.length, rule.alert).toBeGreaterThan(0);
    }
  });

  it('name only metrics a running Portico exports', async () => {
    const scraped = new PrometheusText(await (await fetch(`${server.portico.metricsAddress}/metrics`)).text());
    const exported = new Set<string>();
    for (const family of scraped.families.values()) {
      exported.add(family.name);
      if (family.type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(family.name + suffix);
    }
    const named = [...rulesFromDoc().matchAll(/\bportico_[a-z_]+\b/g)].map((match) => match[0]);
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((name) => !exported.has(name))).toEqual([]);
  });

  it('pass promtool check rules, where Debian\'s promtool is installed', () => {
    const version = promtoolVersion();
    if (!version) {
      // Not installed (apt-get install prometheus): the two tests above still hold the rules to account.
      console.info('promtool is not installed: docs/operations.md rules checked for structure and metric names only');
      return;
    }
    const folder = mkdtempSync(join(tmpdir(), 'portico-rules-'));
    try {
      const file = join(folder, 'portico-rules.yml');
      writeFileSync(file, rulesFromDoc());
      const checked = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
      expect(checked.status, `${version}: ${checked.stdout}${checked.stderr}`).toBe(0);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
