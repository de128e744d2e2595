export * from './chart-values.ts';
export * from './condition.ts';
export * from './curationrun.ts';
export * from './meta.ts';
export * from './stage.ts';
export * from './sweinstance.ts';
export * from './validate.ts';
