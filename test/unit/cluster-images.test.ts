import { describe, expect, it } from 'vitest';
import { isThrowawayRegistryRef } from '../cluster/images.ts';

// The test cluster's containerd root outlives each cluster; images pulled from a test's
// registry on host:port are dropped at the next start, the sandbox and pause images are kept.
describe('images pruned when a test cluster starts', () => {
  it('drops images from host:port registries and keeps imported ones', () => {
    expect(isThrowawayRegistryRef('10.0.2.15:41234/scaleswe/env@sha256:abc')).toBe(true);
    expect(isThrowawayRegistryRef('127.0.0.1:5000/scaleswe/env:minicalc-1')).toBe(true);
    expect(isThrowawayRegistryRef('localhost:5000/x/y:z')).toBe(true);
    expect(isThrowawayRegistryRef('docker.io/scaleswe/sandbox-python:0.1.0')).toBe(false);
    expect(isThrowawayRegistryRef('localhost/pause:3.9')).toBe(false);
    expect(isThrowawayRegistryRef('docker.io/scaleswe/operator:e2e-1680db199c40')).toBe(false);
  });
});
