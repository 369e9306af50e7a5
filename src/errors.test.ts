import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AppError, type ErrorCode, errorRegistry, isAppError } from './errors.js';

const entries = Object.entries(errorRegistry) as [ErrorCode, { status: number; message: string }][];

describe('errorRegistry', () => {
  it.each(entries)('%s is consistent', (code, { status, message }) => {
    expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
    expect(Number.isInteger(status)).toBe(true);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(600);
    expect(message.trim()).toBe(message);
    expect(message.length).toBeGreaterThan(0);
    expect(message).toMatch(/^[A-Z]/);
    expect(message).toMatch(/\.$/);
    // A message is shown to anyone: nothing from a stack trace, an exception or a template.
    expect(message).not.toMatch(/\bat \S+ \(|Error:|undefined|null|\$\{|\n|\.ts\b|\.js\b/);
  });

  it('uses 5xx only for failures on our side', () => {
    const serverSide = entries.filter(([, { status }]) => status >= 500).map(([code]) => code);
    expect(serverSide.sort()).toEqual(['DATABASE_UNAVAILABLE', 'INTERNAL']);
  });
});

describe('AppError', () => {
  it('carries the code, status and registry message', () => {
    const error = new AppError('CLIENT_EXISTS');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('AppError');
    expect(error.code).toBe('CLIENT_EXISTS');
    expect(error.status).toBe(409);
    expect(error.message).toBe('This email is already a client of the workspace.');
  });

  it('keeps the cause for the logs', () => {
    const cause = new Error('SQLITE_BUSY: database is locked');
    const error = new AppError('DATABASE_UNAVAILABLE', { cause });
    expect(error.cause).toBe(cause);
    expect(error.message).toBe(errorRegistry.DATABASE_UNAVAILABLE.message);
    expect(error.message).not.toContain('SQLITE_BUSY');
  });

  it('takes a more precise message but keeps the code and status', () => {
    const error = new AppError('WORKSPACE_SLUG_TAKEN', { message: 'A workspace with the slug "acme" already exists.' });
    expect(error.message).toBe('A workspace with the slug "acme" already exists.');
    expect(error.code).toBe('WORKSPACE_SLUG_TAKEN');
    expect(error.status).toBe(409);
  });
});

describe('isAppError', () => {
  it('recognises an AppError, optionally of one code', () => {
    const error = new AppError('NOT_FOUND');
    expect(isAppError(error)).toBe(true);
    expect(isAppError(error, 'NOT_FOUND')).toBe(true);
    expect(isAppError(error, 'INTERNAL')).toBe(false);
  });

  it('refuses look-alikes', () => {
    expect(isAppError(new Error('NOT_FOUND'))).toBe(false);
    expect(isAppError({ code: 'NOT_FOUND', status: 404, message: 'x' })).toBe(false);
    expect(isAppError(null)).toBe(false);
    expect(isAppError(undefined)).toBe(false);
  });
});

describe('docs/errors.md', () => {
  const page = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map(
    [...page.matchAll(/^\| `([A-Z0-9_]+)` \| (\d{3}) \| (.*) \|$/gm)].map((match) => [match[1], { status: Number(match[2]), message: match[3]!.replace(/\\\|/g, '|') }]),
  );

  it('lists every code with its status and message', () => {
    for (const [code, { status, message }] of entries) {
      expect(rows.get(code), `${code} is missing from docs/errors.md or out of date`).toEqual({ status, message });
    }
  });

  it('lists no code the registry does not have', () => {
    expect([...rows.keys()].sort()).toEqual(entries.map(([code]) => code).sort());
  });
});
