// The dataset store on S3-compatible object storage (the only module importing the AWS SDK).
// Credentials come from the SDK's default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
// which the chart sets from a Secret); they are never logged and never part of `where`.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { DatasetStore } from './dataset-store.ts';

export interface S3StoreConfig {
  bucket: string;
  /** http(s) URL of an S3-compatible server; unset: AWS S3 of `region`. */
  endpoint?: string | undefined;
  region?: string | undefined;
  /** Path-style URLs (bucket in the path), which most S3-compatible servers need. */
  forcePathStyle?: boolean | undefined;
  /** Prepended to every key (several deployments sharing one bucket). */
  prefix?: string | undefined;
  /** Unset: the SDK's default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** Per request: an unreachable store fails the reconcile soon, which then backs off. */
  requestTimeoutMs?: number | undefined;
}

export class S3Store implements DatasetStore {
  readonly where: string;
  private readonly client: S3Client;
  private readonly prefix: string;
  private readonly config: S3StoreConfig;

  constructor(config: S3StoreConfig) {
    this.config = config;
    const timeout = config.requestTimeoutMs ?? 10_000;
    this.client = new S3Client({
      ...(config.endpoint && { endpoint: config.endpoint }),
      region: config.region ?? 'us-east-1',
      forcePathStyle: config.forcePathStyle ?? true,
      ...(config.credentials && { credentials: config.credentials }),
      // The reconcile loop retries with backoff; the SDK need not retry long on its own.
      maxAttempts: 2,
      requestHandler: { connectionTimeout: timeout, requestTimeout: timeout },
      // Checksums only where S3 requires them: S3-compatible servers differ in the rest.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    this.prefix = config.prefix ? `${config.prefix.replace(/\/+$/, '')}/` : '';
    this.where = `s3://${config.bucket}/${this.prefix}${config.endpoint ? ` at ${config.endpoint}` : ''}`;
  }

  async put(key: string, body: string | Uint8Array): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.config.bucket,
        Key: this.prefix + key,
        Body: typeof body === 'string' ? Buffer.from(body) : body,
        ContentType: 'application/json',
      }),
    );
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.config.bucket, Key: this.prefix + key }),
      );
      return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
    } catch (err) {
      // Only a missing object; a missing bucket is a configuration error, not absent content.
      if (err instanceof S3ServiceException && err.name === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    // S3 answers 204 for a missing key too.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.prefix + key }));
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.config.bucket,
          Prefix: this.prefix + prefix,
          ...(token && { ContinuationToken: token }),
        }),
      );
      for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key.slice(this.prefix.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  destroy(): void {
    this.client.destroy();
  }
}
