import { describe, expect, it } from 'vitest';
import { infraFaultIn, isInfraFailure } from './failures.ts';

// Real outputs (trimmed) of installers and runtimes when the machine, not the PR, broke.
const PIP_ENOSPC = `Collecting pytest
  Downloading pytest-8.3.4-py3-none-any.whl (343 kB)
ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device`;
const UV_ENOSPC =
  'error: Failed to install: pytest-8.3.4-py3-none-any.whl (pytest==8.3.4)\n  Caused by: failed to write to file `/c/uv/.tmpX/pytest`: No space left on device (os error 28)';
const EROFS = "OSError: [Errno 30] Read-only file system: '/c/pip/http'";
const KILLED = 'bash: line 1:  4242 Killed                  pip install -e .[test]';
const OOM = 'fatal error: runtime: out of memory';
const PIP_OFFLINE = `WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f>: Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')': /simple/pytest/
ERROR: Could not find a version that satisfies the requirement pytest (from versions: none)`;
const UV_OFFLINE =
  'error: Request failed after 3 retries\n  Caused by: error sending request for url (https://pypi.org/simple/pytest/)\n  Caused by: dns error: failed to lookup address information';
// jshttp/cookie, real trial: npm installed, then a dependency's postinstall download failed.
const NPM_POSTINSTALL_OFFLINE = `npm error path /w/ws/node_modules/top-sites
npm error command failed
npm error command sh -c node scripts/postinstall
npm error AggregateError:
npm error     Error [ERR_SOCKET_CLOSED_BEFORE_CONNECTION]: Socket closed before the connection was established`;

describe('infrastructure symptoms in a negative stage outcome', () => {
  it.each([
    ['pip ENOSPC', PIP_ENOSPC, 'DiskFull'],
    ['uv ENOSPC', UV_ENOSPC, 'DiskFull'],
    ['EROFS', EROFS, 'ReadOnlyFilesystem'],
    ['a SIGKILLed install', KILLED, 'ProcessKilled'],
    ['Go out of memory', OOM, 'OOMKilled'],
    ['pip without a registry', PIP_OFFLINE, 'RegistryUnreachable'],
    ['uv without a registry', UV_OFFLINE, 'RegistryUnreachable'],
    ["an install script's download cut off", NPM_POSTINSTALL_OFFLINE, 'RegistryUnreachable'],
  ])('%s in a failed setup is an infrastructure failure, not EnvSetupFailed', (_name, text, reason) => {
    const fault = infraFaultIn({ reason: 'EnvSetupFailed', text });
    expect(fault?.reason).toBe(reason);
    expect(isInfraFailure(fault!.reason)).toBe(true);
    expect(fault!.message).toContain('EnvSetupFailed is no verdict');
  });

  it('names the line, without terminal colours', () => {
    const text = `==> setup (exit 1)\n\u001b[31mERROR: Could not install packages due to an OSError: [Errno 28] No space left on device\u001b[0m`;
    expect(infraFaultIn({ reason: 'EnvSetupFailed', text })?.message).toBe(
      'a disk the stage writes to is full (ENOSPC, quota), so EnvSetupFailed is no verdict: ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device',
    );
  });

  it('a full disk is no verdict in any stage', () => {
    expect(infraFaultIn({ reason: 'NoFailToPass', text: PIP_ENOSPC })?.reason).toBe('DiskFull');
  });

  it('network symptoms of tests are data (TestsNeedNetwork), not a registry outage', () => {
    expect(infraFaultIn({ reason: 'TestsNeedNetwork', text: PIP_OFFLINE })).toBeUndefined();
    expect(infraFaultIn({ reason: 'NoFailToPass', text: UV_OFFLINE })).toBeUndefined();
  });

  it('an ordinary failure is left a verdict', () => {
    const text = `ERROR: Could not find a version that satisfies the requirement nosuchpkg==9 (from versions: 1.0)
ERROR: No matching distribution found for nosuchpkg==9
tests/test_x.py::test_kill_switch FAILED  # a test about a "Killed" state: not a signal line`;
    expect(infraFaultIn({ reason: 'DependencyResolutionFailed', text })).toBeUndefined();
    expect(
      infraFaultIn({ reason: 'EnvSetupFailed', text: 'ModuleNotFoundError: No module named x' }),
    ).toBeUndefined();
  });
});
