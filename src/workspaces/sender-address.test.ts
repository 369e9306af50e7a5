import { describe, expect, it } from 'vitest';
import { formatMailbox, readMailbox } from './sender-address.js';

describe('readMailbox (--mail-from)', () => {
  it.each([
    ['Acme Studio <hello@acme.example>', { name: 'Acme Studio', address: 'hello@acme.example' }],
    ['"Acme, Inc." <hello@acme.example>', { name: 'Acme, Inc.', address: 'hello@acme.example' }],
    ['  hello@acme.example  ', { name: null, address: 'hello@acme.example' }],
    ['<hello@acme.example>', { name: null, address: 'hello@acme.example' }],
    ['Zoë & Co <zoe@acme.example>', { name: 'Zoë & Co', address: 'zoe@acme.example' }],
    ['סטודיו אקמה <hello@acme.example>', { name: 'סטודיו אקמה', address: 'hello@acme.example' }],
  ])('reads %j', (text, mailbox) => {
    expect(readMailbox(text, '--mail-from')).toEqual({ ok: true, mailbox });
  });

  it.each([
    ['Acme <not an address>', 'no valid address'],
    ['Acme', 'no valid address'],
    ['Acme <a@b.example>, Other <c@d.example>', 'without < or >'],
    ['Acme\r\nBcc: victim@example.com <a@acme.example>', 'not one line'],
    ['<script> <a@acme.example>', 'without < or >'],
    [`${'x'.repeat(101)} <a@acme.example>`, '1 to 100 characters'],
    // The display name is what a mail program shows as the sender: no reordering it into another.
    ['Acme\u202Eevil <a@acme.example>', 'text-direction overrides'],
  ])('refuses %j, saying why', (text, reason) => {
    const read = readMailbox(text, '--mail-from');
    expect(read.ok).toBe(false);
    if (!read.ok) expect(read.reason).toContain(reason);
  });

  it('writes back what it reads', () => {
    const read = readMailbox('"Acme, Inc." <hello@acme.example>', '--mail-from');
    if (!read.ok) throw new Error(read.reason);
    expect(formatMailbox(read.mailbox)).toBe('Acme, Inc. <hello@acme.example>');
    expect(readMailbox(formatMailbox(read.mailbox), '--mail-from')).toEqual(read);
  });
});
