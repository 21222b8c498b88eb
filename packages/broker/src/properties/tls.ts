/**
 * A listener's TLS from Kafka's ssl.* properties, with the rules of Kafka's DefaultSslEngineFactory
 * (createKeystore, createTruststore): a keystore is a file (ssl.keystore.location) or PEM in the
 * properties (ssl.keystore.certificate.chain and ssl.keystore.key, KIP-651), never both; PEM refuses
 * a store password (only ssl.key.password); ssl.*.type defaults to JKS, as in Kafka.
 *
 * kch's TLS is node:tls, which reads PEM only. A JKS or PKCS12 store is an error that says how to
 * convert it, rather than a conversion here: that would need a JKS reader, and would keep the
 * operator's file in a format kch cannot reload when it changes.
 */
import type { TlsOptions } from '../security/options.js';
import { type Lookup, listenerPrefix, type Prop, type PropertyReader } from './reader.js';

export type TlsInput = Partial<TlsOptions> & Pick<TlsOptions, 'cert' | 'key'>;

/**
 * The commands that turn a Java store into the PEM file kch reads: keytool makes a JKS store PKCS12,
 * which openssl reads; a trust store keeps its certificates only.
 */
function conversion(store: 'keystore' | 'truststore', type: string, file: string): string {
  const base = file.replace(/\.(jks|p12|pfx|pkcs12|keystore|truststore)$/i, '');
  const p12 = type === 'JKS' ? `${base}.p12` : file;
  const toP12 =
    type === 'JKS'
      ? `keytool -importkeystore -srckeystore ${file} -destkeystore ${p12} -deststoretype PKCS12 && `
      : '';
  const what = store === 'keystore' ? '-nodes' : '-nokeys';
  return `${toP12}openssl pkcs12 -in ${p12} -out ${base}.pem ${what}`;
}

/**
 * PEM text from a property, in the layout OpenSSL reads. A value continued over several lines of a
 * properties file arrives as one line (the continuations drop the line breaks), which OpenSSL
 * refuses and Kafka's PEM parser accepts: each block's base64 is rewrapped at 64 columns. Blocks with
 * headers (Proc-Type, DEK-Info) are kept as they are. Undefined when there is no PEM block.
 */
export function pemText(value: string): string | undefined {
  const blocks = [...value.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g)];
  if (blocks.length === 0) return undefined;
  const out = blocks.map(([whole, label, body]) => {
    if (body!.includes(':')) return whole;
    const base64 = body!.replace(/\s+/g, '');
    const lines = base64.match(/.{1,64}/g) ?? [];
    return [`-----BEGIN ${label}-----`, ...lines, `-----END ${label}-----`].join('\n');
  });
  return `${out.join('\n')}\n`;
}

/** A store named like a PEM file, its type left to Kafka's default (JKS): the usual slip. */
function pemWithoutType(
  reader: PropertyReader,
  location: Prop,
  typeProp: Prop | undefined,
  store: string,
): boolean {
  if (typeProp || !/\.(pem|crt|cer|key)$/i.test(location.value.trim())) return false;
  reader.error(
    `${location.name}: ${store}.type is not set, so the file is read as JKS (Kafka's default); for a PEM file, set ${store}.type=PEM`,
  );
  return true;
}

function storeType(prop: Prop | undefined): string {
  // KeyStore.getInstance takes JKS and PKCS12 in any case; PEM is Kafka's own name for its PEM store.
  return (prop?.value.trim() || 'JKS').toUpperCase();
}

interface TlsContext {
  reader: PropertyReader;
  /** The listener's name, for messages. */
  listener: string;
  protocol: 'SSL' | 'SASL_SSL';
  /** The listener's view of the properties. */
  at: Lookup;
}

/** The keystore's certificate chain and key, or undefined after recording why there is none. */
function keystore(ctx: TlsContext): Pick<TlsInput, 'cert' | 'key' | 'keyPassword'> | undefined {
  const { reader, listener, at } = ctx;
  const typeProp = at('ssl.keystore.type');
  const type = storeType(typeProp);
  const location = at('ssl.keystore.location');
  const chain = at('ssl.keystore.certificate.chain');
  const key = at('ssl.keystore.key');
  const password = at('ssl.keystore.password');
  const keyPassword = at('ssl.key.password');
  const pemPasswordError = (p: Prop) =>
    reader.error(
      `${p.name}: SSL key store password cannot be specified with PEM format, only key password may be specified (ssl.key.password, for an encrypted key)`,
    );
  const withKeyPassword = keyPassword ? { keyPassword: keyPassword.value } : {};
  if (key) {
    if (type !== 'PEM') {
      reader.error(
        `${key.name}: SSL private key can be specified only for PEM, but key store type is ${type}: set ${typeProp?.name ?? 'ssl.keystore.type'}=PEM`,
      );
      return undefined;
    }
    if (!chain) {
      reader.error(
        `${key.name}: SSL private key is specified, but certificate chain is not specified (ssl.keystore.certificate.chain)`,
      );
      return undefined;
    }
    if (location) {
      reader.error(
        `${location.name}, ${key.name}: Both SSL key store location and separate private key are specified`,
      );
      return undefined;
    }
    if (password) {
      pemPasswordError(password);
      return undefined;
    }
    const certPem = pemText(chain.value);
    const keyPem = pemText(key.value);
    if (!certPem) reader.error(`${chain.name}: not PEM text (-----BEGIN CERTIFICATE----- ...)`);
    if (!keyPem) reader.error(`${key.name}: not PEM text (-----BEGIN PRIVATE KEY----- ...)`);
    if (!certPem || !keyPem) return undefined;
    return { cert: certPem, key: keyPem, ...withKeyPassword };
  }
  if (chain) {
    reader.error(
      `${chain.name}: SSL certificate chain is specified, but private key is not specified (ssl.keystore.key)`,
    );
    return undefined;
  }
  if (!location) {
    reader.error(
      `listener ${listener} is ${ctx.protocol} and needs a key store: ssl.keystore.type=PEM with ssl.keystore.location (a PEM file of the key and the certificate chain), or ssl.keystore.certificate.chain and ssl.keystore.key`,
    );
    return undefined;
  }
  if (type !== 'PEM') {
    if (pemWithoutType(reader, location, typeProp, 'ssl.keystore')) return undefined;
    reader.error(
      `${location.name}: the key store type is ${type}${typeProp ? '' : " (Kafka's default)"}, and kch reads PEM only: convert it with \`${conversion('keystore', type, location.value)}\` (-nodes leaves the key unencrypted: protect the file, or drop -nodes and set ssl.key.password to the pass phrase openssl asks for), then set ssl.keystore.type=PEM and ssl.keystore.location to the PEM file`,
    );
    return undefined;
  }
  if (password) {
    pemPasswordError(password);
    return undefined;
  }
  // One PEM file holds the key and the chain, as in Kafka; node:tls picks each from it.
  return { cert: location.value, key: location.value, ...withKeyPassword };
}

/** The authorities trusted for client certificates, when client authentication needs them. */
function truststore(ctx: TlsContext, needed: boolean): string | undefined | null {
  const { reader, at } = ctx;
  const typeProp = at('ssl.truststore.type');
  const type = storeType(typeProp);
  const location = at('ssl.truststore.location');
  const certificates = at('ssl.truststore.certificates');
  const password = at('ssl.truststore.password');
  if (certificates) {
    if (type !== 'PEM') {
      reader.error(
        `${certificates.name}: SSL trust store certs can be specified only for PEM, but trust store type is ${type}: set ${typeProp?.name ?? 'ssl.truststore.type'}=PEM`,
      );
      return null;
    }
    if (location) {
      reader.error(
        `${location.name}, ${certificates.name}: Both SSL trust store location and separate trust certificates are specified`,
      );
      return null;
    }
    if (password) {
      reader.error(`${password.name}: SSL trust store password cannot be specified for PEM format`);
      return null;
    }
    const pem = pemText(certificates.value);
    if (!pem) reader.error(`${certificates.name}: not PEM text (-----BEGIN CERTIFICATE----- ...)`);
    return pem ?? null;
  }
  if (!location) return undefined;
  if (type !== 'PEM') {
    // Without client authentication kch reads no trust store: Kafka's is often there for the broker's
    // own client connections, which kch does not make. Its properties are then named as unused.
    if (!needed) {
      reader.unuse(typeProp, location, password);
      return undefined;
    }
    if (pemWithoutType(reader, location, typeProp, 'ssl.truststore')) return null;
    reader.error(
      `${location.name}: the trust store type is ${type}${typeProp ? '' : " (Kafka's default)"}, and kch reads PEM only: convert it with \`${conversion('truststore', type, location.value)}\`, then set ssl.truststore.type=PEM and ssl.truststore.location to the PEM file`,
    );
    return null;
  }
  if (password) {
    reader.error(`${password.name}: SSL trust store password cannot be specified for PEM format`);
    return null;
  }
  return location.value;
}

/**
 * The TLS options of a listener that speaks SSL or SASL_SSL, or undefined after recording what is
 * missing or wrong.
 */
export function listenerTls(
  reader: PropertyReader,
  listener: string,
  protocol: 'SSL' | 'SASL_SSL',
): TlsInput | undefined {
  const at = reader.forListener(listener);
  const ctx: TlsContext = { reader, listener, protocol, at };
  // Kafka applies the broker-wide ssl.client.auth to SSL listeners only; a SASL_SSL listener asks for
  // client certificates only when its listener-prefixed ssl.client.auth says so (KIP-684).
  const clientAuthProp =
    protocol === 'SSL' ? at('ssl.client.auth') : reader.get(`${listenerPrefix(listener)}ssl.client.auth`);
  const clientAuth = clientAuthProp
    ? (reader.typed(clientAuthProp, 'string', { validValues: ['required', 'requested', 'none'] }) as
        | TlsOptions['clientAuth']
        | undefined)
    : 'none';
  const rules = at('ssl.principal.mapping.rules');
  const keys = keystore(ctx);
  // A PEM trust store is taken even without client authentication (it costs nothing); another kind
  // is only an error when client certificates must be checked against it.
  const ca = truststore(ctx, clientAuth !== undefined && clientAuth !== 'none');
  if (!keys || clientAuth === undefined || ca === null) return undefined;
  return {
    ...keys,
    clientAuth,
    ...(ca !== undefined ? { ca } : {}),
    ...(rules ? { principalMappingRules: rules.value } : {}),
  };
}
