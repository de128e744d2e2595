import type { z } from 'zod';
import { CurationRun } from './curation-run.ts';

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

export function validateCurationRun(input: unknown): ValidationResult<CurationRun> {
  return validate(CurationRun, input);
}
