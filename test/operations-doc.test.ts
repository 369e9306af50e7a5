import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
 * promtool, from Debian's `prometheus` package (issue 19 item 3: "checked by promtool in the tests
 * if Debian has it"; it does). `npm test`'s pretest installs it as it installs Caddy and nginx.
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

  it('pass promtool check rules, and fire (and stay quiet) as promtool test rules expects', () => {
    const version = promtoolVersion();
    expect(version, 'promtool is missing: npm test\'s pretest installs it (apt-get install prometheus)').not.toBeNull();
    const folder = mkdtempSync(join(tmpdir(), 'portico-rules-'));
    try {
      writeFileSync(join(folder, 'portico-rules.yml'), rulesFromDoc());
      const checked = spawnSync('promtool', ['check', 'rules', 'portico-rules.yml'], { cwd: folder, encoding: 'utf8' });
      expect(checked.status, `${version}: ${checked.stdout}${checked.stderr}`).toBe(0);
      // A stuck outbox, a paused sender, a code-guessing run, 2 % server errors and an unreadable
      // database against made-up series: each alert fires when it should, with its words, and not before.
      copyFileSync(fileURLToPath(new URL('./operations-alerts.promtool.yml', import.meta.url)), join(folder, 'tests.yml'));
      const tested = spawnSync('promtool', ['test', 'rules', 'tests.yml'], { cwd: folder, encoding: 'utf8' });
      expect(tested.status, `${tested.stdout}${tested.stderr}`).toBe(0);
      expect(tested.stdout).toContain('SUCCESS');
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
