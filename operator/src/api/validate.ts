import type { z } from 'zod';
import { CurationRun } from './curation-run.ts';
import { objectNameErrors } from './meta.ts';

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/** Formats zod issues as `field.path: message`, the way kubectl reports schema errors. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
    return `${path || '<root>'}: ${issue.message}${keys}`;
  });
}

export function validate<S extends z.ZodType>(schema: S, input: unknown): ValidationResult<z.output<S>> {
  const parsed = schema.safeParse(input);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, errors: formatIssues(parsed.error.issues) };
}

/** A CurationRun as `kubectl apply` would take it: the API server's name rules, then the schema. */
export function validateCurationRun(input: unknown): ValidationResult<CurationRun> {
  const name = (input as { metadata?: { name?: unknown } } | undefined)?.metadata?.name;
  const nameErrors = typeof name === 'string' ? objectNameErrors(name) : [];
  const result = validate(CurationRun, input);
  if (nameErrors.length === 0) return result;
  return { ok: false, errors: [...nameErrors, ...(result.ok ? [] : result.errors)] };
}
