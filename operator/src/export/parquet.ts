// dataset.parquet: the dataset's records as one Parquet table, the format the dataset hubs serve
// (a Hugging Face `datasets.load_dataset("parquet", …)` reads it with typed columns). Written by
// hyparquet-writer; the columns come from the records themselves, so either dataset format works.
import { type ColumnSource, parquetWriteBuffer } from 'hyparquet-writer';

export const PARQUET_FILE = 'dataset.parquet';

/** The Parquet shape of one field, from the values it takes across the records. */
export type ColumnKind = 'string' | 'int' | 'float' | 'bool' | 'string-list' | 'int-list' | 'json';

/**
 * List columns whose element type the data may not show (every list empty), per dataset format;
 * the data decides wherever it can.
 */
export const DECLARED_KINDS: Record<string, Record<string, ColumnKind>> = {
  swebench: {
    issue_numbers: 'int-list',
    scaleswe_FAIL_TO_PASS: 'string-list',
    scaleswe_PASS_TO_PASS: 'string-list',
    FAIL_TO_PASS: 'string-list',
    PASS_TO_PASS: 'string-list',
  },
  scaleswe: { FAIL_TO_PASS: 'string-list', PASS_TO_PASS: 'string-list' },
};

function kindOf(values: readonly unknown[], declared: ColumnKind | undefined): ColumnKind {
  const present = values.filter((v) => v !== undefined && v !== null);
  const silent = present.every((v) => Array.isArray(v) && v.length === 0);
  if (declared !== undefined && silent) return declared;
  const all = (test: (v: unknown) => boolean) => present.length > 0 && present.every(test);
  if (all((v) => typeof v === 'string')) return 'string';
  if (all((v) => typeof v === 'boolean')) return 'bool';
  if (all((v) => Number.isSafeInteger(v))) return 'int';
  if (all((v) => typeof v === 'number')) return 'float';
  const items = present.flatMap((v) => (Array.isArray(v) ? v : []));
  if (all(Array.isArray) && items.every((v) => typeof v === 'string')) return 'string-list';
  if (all(Array.isArray) && items.every((v) => Number.isSafeInteger(v))) return 'int-list';
  // Objects (toolchain), mixed values: JSON text, a type Arrow and `datasets` decode.
  return 'json';
}

/** Field names in first-seen order, and each field's kind (pure). */
export function parquetColumns(
  records: readonly Record<string, unknown>[],
  declared: Record<string, ColumnKind> = {},
): { name: string; kind: ColumnKind }[] {
  const names = [...new Set(records.flatMap((r) => Object.keys(r)))];
  return names.map((name) => ({
    name,
    kind: kindOf(
      records.map((r) => r[name]),
      declared[name],
    ),
  }));
}

type SchemaElement = NonNullable<Parameters<typeof parquetWriteBuffer>[0]['schema']>[number];

function schemaOf(name: string, kind: ColumnKind): SchemaElement[] {
  const leaf: Record<ColumnKind, Omit<SchemaElement, 'name'>> = {
    string: { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
    int: { type: 'INT64' },
    float: { type: 'DOUBLE' },
    bool: { type: 'BOOLEAN' },
    json: { type: 'BYTE_ARRAY', converted_type: 'JSON' },
    'string-list': { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
    'int-list': { type: 'INT64' },
  };
  if (kind !== 'string-list' && kind !== 'int-list')
    return [{ name, repetition_type: 'OPTIONAL', ...leaf[kind] }];
  // The standard three-level LIST: <name> (LIST) → repeated list → element.
  return [
    { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', repetition_type: 'OPTIONAL', ...leaf[kind] },
  ];
}

function cell(value: unknown, kind: ColumnKind): unknown {
  if (value === undefined || value === null) return null;
  if (kind === 'int') return BigInt(value as number);
  if (kind === 'int-list') return (value as number[]).map((v) => BigInt(v));
  return value;
}

/** The records as a Parquet file (one table, a column per field); undefined without records. */
export function toParquet(
  records: readonly Record<string, unknown>[],
  declared: Record<string, ColumnKind> = {},
): Buffer | undefined {
  if (records.length === 0) return undefined;
  const columns = parquetColumns(records, declared);
  const columnData: ColumnSource[] = columns.map(({ name, kind }) => ({
    name,
    data: records.map((r) => cell(r[name], kind)),
  }));
  const schema: SchemaElement[] = [
    { name: 'root', num_children: columns.length },
    ...columns.flatMap(({ name, kind }) => schemaOf(name, kind)),
  ];
  return Buffer.from(parquetWriteBuffer({ columnData, schema, createdBy: 'scaleswe' }));
}
