export * from './chart-values.ts';
export * from './condition.ts';
export * from './curation-run.ts';
export * from './meta.ts';
export * from './stage.ts';
export * from './swe-instance.ts';
export * from './validate.ts';
