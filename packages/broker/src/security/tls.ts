/**
 * TLS of a listener: the certificate, key and trusted authorities read from PEM files or PEM text,
 * and read again when a file changes, so a renewed certificate is served without a restart.
 */
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { TlsOptions as NodeTlsOptions, SecureContextOptions } from 'node:tls';
import type { Logger } from '../logger.js';
import type { TlsOptions } from './options.js';

/** A PEM option is the PEM text itself when it holds a PEM block (KIP-651), else a file path. */
function isPemText(value: string): boolean {
  return value.includes('-----BEGIN');
}

function readPem(value: string, what: string, listener: string): string {
  if (isPemText(value)) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch (e) {
    throw new Error(`listener ${listener}: cannot read the TLS ${what} ${value}: ${(e as Error).message}`);
  }
}

/** How often changed certificate files are looked for. */
const RELOAD_POLL_MS = 1000;

export class ListenerTls {
  private readonly files: string[];

  constructor(
    private readonly options: TlsOptions,
    private readonly listener: string,
  ) {
    this.files = [options.cert, options.key, options.ca].filter(
      (v): v is string => v !== undefined && !isPemText(v),
    );
  }

  /** The certificate, key and authorities as they are now; throws a message naming what is wrong. */
  secureContext(): SecureContextOptions {
    const { options, listener } = this;
    return {
      cert: readPem(options.cert, 'certificate', listener),
      key: readPem(options.key, 'key', listener),
      passphrase: options.keyPassword,
      ...(options.ca ? { ca: readPem(options.ca, 'trusted certificates (ca)', listener) } : {}),
    };
  }

  /** Options of tls.createServer: the context, and whether and how client certificates are asked for. */
  serverOptions(): NodeTlsOptions {
    const clientAuth = this.options.clientAuth;
    return {
      ...this.secureContext(),
      requestCert: clientAuth !== 'none',
      // "requested" accepts a client without a certificate; one that presents a certificate the trusted
      // authorities did not sign is refused by the connection (socket.authorized), as Kafka does.
      rejectUnauthorized: clientAuth === 'required',
      minVersion: 'TLSv1.2',
    };
  }

  /**
   * Calls `apply` with the new context whenever a certificate file changes; a file caught half
   * written is logged and the old context kept until the next change. Returns the stop function.
   */
  watch(apply: (context: SecureContextOptions) => void, logger: Logger): () => void {
    const reload = () => {
      try {
        apply(this.secureContext());
        logger.info('TLS certificate reloaded', { listener: this.listener });
      } catch (e) {
        logger.warn('TLS certificate not reloaded, the previous one stays in use', {
          listener: this.listener,
          reason: (e as Error).message,
        });
      }
    };
    const onChange = (now: { mtimeMs: number }, before: { mtimeMs: number }) => {
      if (now.mtimeMs !== before.mtimeMs) reload();
    };
    for (const f of this.files) watchFile(f, { interval: RELOAD_POLL_MS, persistent: false }, onChange);
    return () => {
      for (const f of this.files) unwatchFile(f, onChange);
    };
  }
}
