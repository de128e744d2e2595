import { ScaleSweError } from '../api/index.ts';
/**
 * The reconcile contract (controller-runtime's, kopf's temporary vs permanent errors):
 * return normally (optionally with requeueAfter); throw TerminalError for a failure that
 * retrying cannot fix (recorded on the object, never retried); throw anything else to be
 * retried with per-key exponential backoff.
 */
export class TerminalError extends ScaleSweError {}

export interface ReconcileResult {
  requeueAfterMs?: number;
}

/** HTTP status of a failed API call (ApiException.code, watch errors' statusCode), if any. */
export function statusCodeOf(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

export const isNotFound = (err: unknown) => statusCodeOf(err) === 404;
export const isConflict = (err: unknown) => statusCodeOf(err) === 409;
/** Create of an existing name also answers 409, distinguished by the Status reason. */
export function isAlreadyExists(err: unknown): boolean {
  if (statusCodeOf(err) !== 409) return false;
  const body = (err as { body?: unknown }).body;
  const text = typeof body === 'string' ? body : JSON.stringify(body ?? '');
  return text.includes('AlreadyExists');
}
/** 422 Invalid: the API server rejected the object (schema, CEL rule). */
export const isInvalid = (err: unknown) => statusCodeOf(err) === 422;

/** A short message for logs and conditions, without the client's header dump. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const body = (err as { body?: unknown }).body;
    if (body !== undefined) {
      try {
        const parsed = typeof body === 'string' ? JSON.parse(body) : body;
        if (parsed && typeof parsed === 'object' && 'message' in parsed) return String(parsed.message);
      } catch {
        // not JSON: fall through
      }
    }
    return err.message.split('\n')[0] ?? err.message;
  }
  return String(err);
}
