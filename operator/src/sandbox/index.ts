export * from './classify.ts';
export * from './env-image-pod.ts';
export * from './envelope.ts';
export * from './grade-log.ts';
export * from './names.ts';
export * from './network-policy.ts';
export * from './pod.ts';
export * from './stage-input.ts';
