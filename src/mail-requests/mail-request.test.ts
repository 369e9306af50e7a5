import { describe, expect, it } from 'vitest';
import { readMailRequest, type MailRequest } from './mail-request.js';

const requests: MailRequest[] = [
  {
    template: 'magic-link-request',
    payload: { normalizedEmail: 'ada@example.com', typedEmail: 'Ada@Example.com', ip: '203.0.113.7', nextPath: '/invoices?year=2024', browserBindingHash: 'h'.repeat(43) },
  },
  { template: 'magic-link-request', payload: { normalizedEmail: 'ada@example.com', typedEmail: 'ada@example.com', ip: '::1', nextPath: null, browserBindingHash: 'h'.repeat(43) } },
  { template: 'password-reset-request', payload: { normalizedEmail: 'ada@example.com', typedEmail: 'ada@example.com', ip: '203.0.113.7' } },
  // issue 18 item 2: the asking browser's language, and null when no browser asked (the admin API).
  { template: 'magic-link-request', payload: { normalizedEmail: 'ada@example.com', typedEmail: 'ada@example.com', ip: '::1', nextPath: null, browserBindingHash: 'h'.repeat(43), locale: 'de' } },
  { template: 'magic-link-request', payload: { normalizedEmail: 'ada@example.com', typedEmail: 'ada@example.com', ip: '::1', nextPath: null, browserBindingHash: null, locale: null } },
  { template: 'password-reset-request', payload: { normalizedEmail: 'ada@example.com', typedEmail: 'ada@example.com', ip: '203.0.113.7', locale: 'pt-BR' } },
  { template: 'invitation-request', payload: { clientId: '0b7c4f0e-2f7b-4a8e-9d0a-3c1f5b6e7d8a' } },
];

describe('readMailRequest', () => {
  it.each(requests)('reads back the $template row enqueueMailRequest writes', (request) => {
    expect(readMailRequest({ template: request.template, payload: JSON.stringify(request.payload) })).toEqual(request);
  });

  it('reads a row queued before the payloads were typed: the JSON is the same', () => {
    const row = { template: 'magic-link-request', payload: '{"normalizedEmail":"a@example.com","typedEmail":"a@example.com","ip":"::1","nextPath":null,"browserBindingHash":"x"}' };
    expect(readMailRequest(row)).toMatchObject({ template: 'magic-link-request', payload: { nextPath: null, browserBindingHash: 'x' } });
  });

  it.each([
    ['magic-link-request', '{not json', /JSON/],
    ['magic-link-request', 'null', /is not an object/],
    ['magic-link-request', '{"normalizedEmail":"a@example.com","typedEmail":"a@example.com","ip":"::1","nextPath":null}', /has no browserBindingHash/],
    ['magic-link-request', '{"normalizedEmail":"a@example.com","typedEmail":"a@example.com","ip":"::1","nextPath":7,"browserBindingHash":"x"}', /has no nextPath/],
    ['password-reset-request', '{"normalizedEmail":"a@example.com","ip":"::1"}', /has no typedEmail/],
    ['invitation-request', '{"clientId":null}', /has no clientId/],
    ['password-changed', '{}', /not a kind of mail request/],
  ])('refuses a %s row whose payload is %s: the worker counts it as a failed preparation', (template, payload, error) => {
    expect(() => readMailRequest({ template, payload })).toThrow(error);
  });

  it('names the missing field, never a value of the payload', () => {
    expect(() => readMailRequest({ template: 'password-reset-request', payload: '{"normalizedEmail":"secret@example.com","typedEmail":42,"ip":"::1"}' })).toThrow(
      'the payload of a password-reset-request row has no typedEmail',
    );
    // Node's JSON.parse quotes the text it choked on.
    expect(() => readMailRequest({ template: 'magic-link-request', payload: '{"normalizedEmail":"secret@example.com",' })).toThrow(/^the payload of a magic-link-request row is not JSON$/);
  });
});
