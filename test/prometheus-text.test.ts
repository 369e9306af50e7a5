import { describe, expect, it } from 'vitest';
import { PrometheusText } from './helpers/prometheus-text.js';

// The metrics tests are only as strict as their reader: it must refuse what a scraper refuses.
describe('the test reader of the Prometheus text format', () => {
  const good = [
    '# HELP requests_total Requests',
    '# TYPE requests_total counter',
    'requests_total{route="/a",status="200"} 3',
    'requests_total{route="say \\"hi\\"\\n\\\\"} 1e3',
    '# TYPE latency_seconds histogram',
    'latency_seconds_bucket{le="0.1"} 1',
    'latency_seconds_bucket{le="+Inf"} 2',
    'latency_seconds_sum 0.3',
    'latency_seconds_count 2',
    '# TYPE lag gauge',
    'lag Nan',
    '',
  ].join('\n');

  it('reads samples, escaped label values and histograms', () => {
    const text = new PrometheusText(good);
    expect(text.value('requests_total', { route: '/a', status: '200' })).toBe(3);
    expect(text.value('requests_total', { route: 'say "hi"\n\\' })).toBe(1000);
    expect(text.value('latency_seconds_count')).toBe(2);
    expect(text.value('lag')).toBeNaN();
  });

  it.each([
    ['no final line feed', good.trimEnd()],
    ['a sample before its TYPE', 'orphan_total 1\n'],
    ['a malformed value', '# TYPE x gauge\nx one\n'],
    ['a malformed label', '# TYPE x gauge\nx{1a="b"} 1\n'],
    ['an unknown escape', '# TYPE x gauge\nx{a="\\t"} 1\n'],
    ['an unterminated label', '# TYPE x gauge\nx{a="b} 1\n'],
    ['a duplicate series', '# TYPE x gauge\nx{a="b"} 1\nx{a="b"} 2\n'],
    ['buckets that are not cumulative', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n'],
    ['no +Inf bucket', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 1\n'],
    ['+Inf bucket unlike _count', '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 2\n'],
    ['an unknown type', '# TYPE x meter\n'],
  ])('refuses %s', (_what, text) => {
    expect(() => new PrometheusText(text)).toThrow();
  });
});
