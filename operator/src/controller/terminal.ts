import {
  type GroupResource,
  type Informer,
  type TerminalError,
  updateStatus,
  type WriteOverlay,
} from '../kube/index.ts';
import type { ControllerContext } from './controller-context.ts';
import { type RawObject, splitKey } from './resources.ts';

/** Where one kind's objects are cached and written, and how its status reads when it failed. */
export interface TerminalTarget {
  resource: GroupResource;
  cache: Informer<RawObject>;
  overlay: WriteOverlay<RawObject>;
  /** The Failed status (pure), from the object as the API server has it now. */
  failed: (fresh: RawObject, reason: string, message: string, now: Date) => RawObject['status'];
  /** Kinds users create by hand get a Warning Event naming the reason. */
  warn?: boolean;
}

/**
 * A TerminalError (an object the schema refuses, a spec no reconcile can take): the object's
 * status says Failed with the reason, written once; retrying would only repeat the error.
 */
export async function recordTerminal(
  ctx: ControllerContext,
  target: TerminalTarget,
  k: string,
  err: TerminalError,
): Promise<void> {
  const { namespace, name } = splitKey(k);
  const raw = target.overlay.resolve(target.cache.get(namespace, name));
  if (!raw) return;
  const now = ctx.now();
  const write = await updateStatus(
    ctx.kube,
    target.resource,
    raw,
    (fresh) => target.failed(fresh, err.reason, err.message, now),
    { overlay: target.overlay },
  );
  if (target.warn && write.written)
    ctx.events.record(write.object, 'Warning', err.reason, 'Validate', err.message);
}
