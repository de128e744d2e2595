/**
 * Base class of the project's errors: a CamelCase `reason` (what status, events and exit
 * messages carry) and a `name` that is the subclass's, so logs say which error it was.
 */
export class ScaleSweError extends Error {
  readonly reason: string;

  constructor(reason: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.reason = reason;
  }
}
