import { ScaleSweError } from '../api/index.ts';

/** An error whose message is the whole story for the user: printed alone, with an exit code. */
export class UserError extends ScaleSweError {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super('UsageError', message);
    this.exitCode = exitCode;
  }
}
