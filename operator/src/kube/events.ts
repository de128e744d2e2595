import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { EVENTS, type Kube, type KubeObject } from './client.ts';

export type EventType = 'Normal' | 'Warning';

/** MicroTime as the API server wants it: RFC 3339 with microseconds. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/**
 * Kubernetes Events (events.k8s.io/v1) for notable transitions, shown by
 * `kubectl describe`. Best effort: a failed event never fails a reconcile.
 */
export class EventRecorder {
  private readonly kube: Kube;
  private readonly controller: string;
  private readonly instance: string;
  private readonly log: Logger;

  constructor(kube: Kube, opts: { controller: string; instance: string; log: Logger }) {
    this.kube = kube;
    this.controller = opts.controller;
    this.instance = opts.instance;
    this.log = opts.log;
  }

  record(obj: KubeObject, type: EventType, reason: string, action: string, note: string): void {
    const { name = '', namespace = 'default', uid } = obj.metadata;
    const body = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: `${name.slice(0, 200)}.${randomBytes(8).toString('hex')}`, namespace },
      eventTime: microTime(new Date()),
      reportingController: this.controller,
      reportingInstance: this.instance.slice(0, 128),
      action,
      reason,
      type,
      note: note.slice(0, 1024),
      regarding: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name,
        namespace,
        uid,
        resourceVersion: obj.metadata.resourceVersion,
      },
    };
    this.kube.create(EVENTS, namespace, body).catch((err: unknown) => {
      this.log.debug({ err: String(err), reason }, 'could not record event');
    });
  }
}
