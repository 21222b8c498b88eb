/**
 * Request and response headers, and whole request/response frames.
 *
 * The header version follows the body: a request in a flexible version carries request header v2
 * (tagged fields), otherwise v1; a response in a flexible version carries response header v1, otherwise
 * v0. ApiVersions responses always use header v0 (KIP-511): a client that sent a version the broker does
 * not know must still be able to read the answer.
 */

import type { Init, MessageCodec } from './codec-runtime.js';
import { KafkaCodecError } from './errors.js';
import { APIS, type ApiDescriptor, ApiKeys } from './generated/apis.js';
import {
  decodeRequestHeader,
  encodeRequestHeader,
  type RequestHeader,
} from './generated/messages/request-header.js';
import { decodeResponseHeader, encodeResponseHeader } from './generated/messages/response-header.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

const BY_KEY: (ApiDescriptor | undefined)[] = [];
for (const api of APIS) BY_KEY[api.apiKey] = api;

/** The API with this key, or undefined when the codec does not know it. */
export function apiByKey(apiKey: number): ApiDescriptor | undefined {
  return BY_KEY[apiKey];
}

/** Whether this version of the API is flexible; versions above the newest known count as flexible when its flexible range is open. */
function isFlexible(codec: MessageCodec<unknown>, version: number): boolean {
  return codec.flexibleMinVersion >= 0 && version >= codec.flexibleMinVersion;
}

export function requestHeaderVersion(apiKey: number, apiVersion: number): number {
  const api = BY_KEY[apiKey];
  if (!api) return 1;
  return isFlexible(api.request, apiVersion) ? 2 : 1;
}

export function responseHeaderVersion(apiKey: number, apiVersion: number): number {
  if (apiKey === ApiKeys.ApiVersions) return 0;
  const api = BY_KEY[apiKey];
  if (!api) return 0;
  return isFlexible(api.response, apiVersion) ? 1 : 0;
}

export interface ParsedRequest {
  header: RequestHeader;
  headerVersion: number;
  /** Positioned at the start of the body. */
  body: Reader;
}

/**
 * Reads the header of a request frame (the bytes after the 4-byte size). The API key and version are
 * read first, because they decide the header version.
 */
export function parseRequestHeader(frame: Buffer): ParsedRequest {
  if (frame.length < 8) {
    throw new KafkaCodecError(
      'TRUNCATED',
      `request of ${frame.length} bytes is shorter than the 8 bytes of api key, version and correlation id`,
    );
  }
  const headerVersion = requestHeaderVersion(frame.readInt16BE(0), frame.readInt16BE(2));
  const body = new Reader(frame);
  const header = decodeRequestHeader(body, headerVersion);
  return { header, headerVersion, body };
}

/** A request frame, size prefix included, as chunks for `writev`. */
export function encodeRequestFrame<T>(
  codec: MessageCodec<T>,
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  clientId: string | null,
  message: Init<T>,
): Buffer[] {
  const w = new Writer();
  w.int32(0); // size placeholder, patched below
  encodeRequestHeader(
    w,
    { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId, clientId },
    requestHeaderVersion(apiKey, apiVersion),
  );
  codec.encode(w, message, apiVersion);
  return withSize(w);
}

/** A response frame, size prefix included, as chunks for `writev`. */
export function encodeResponseFrame<T>(
  codec: MessageCodec<T>,
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  message: Init<T>,
): Buffer[] {
  const w = new Writer();
  w.int32(0);
  encodeResponseHeader(w, { correlationId }, responseHeaderVersion(apiKey, apiVersion));
  codec.encode(w, message, apiVersion);
  return withSize(w);
}

function withSize(w: Writer): Buffer[] {
  const size = w.length - 4;
  const chunks = w.toChunks();
  // The placeholder is the first 4 bytes of the first chunk: the writer never references caller
  // buffers that small, so chunk 0 is the writer's own.
  chunks[0]!.writeInt32BE(size, 0);
  return chunks;
}

/** Decodes a response frame (without its size prefix) for the request it answers. */
export function decodeResponseFrame<T>(
  codec: MessageCodec<T>,
  apiKey: number,
  apiVersion: number,
  frame: Buffer,
): { correlationId: number; body: T } {
  const r = new Reader(frame);
  const { correlationId } = decodeResponseHeader(r, responseHeaderVersion(apiKey, apiVersion));
  return { correlationId, body: codec.decode(r, apiVersion) };
}
