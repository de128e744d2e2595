import pkg from '../../../package.json' with { type: 'json' };

/** The scaleswe version (package.json): `scaleswe --version` and the header of report.md. */
export const SCALESWE_VERSION: string = pkg.version;
