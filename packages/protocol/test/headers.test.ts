import { describe, expect, it } from 'vitest';
import {
  ApiKeys,
  ApiVersionsRequest,
  ApiVersionsResponse,
  decodeResponseFrame,
  encodeRequestFrame,
  encodeResponseFrame,
  MetadataRequest,
  ProduceRequest,
  parseRequestHeader,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../src/index.js';

const frameBody = (chunks: Buffer[]) => {
  const all = Buffer.concat(chunks);
  expect(all.readInt32BE(0)).toBe(all.length - 4);
  return all.subarray(4);
};

describe('header versions', () => {
  it('follow the flexible versions of the body', () => {
    expect(requestHeaderVersion(ApiKeys.Produce, 8)).toBe(1);
    expect(requestHeaderVersion(ApiKeys.Produce, 9)).toBe(2);
    expect(responseHeaderVersion(ApiKeys.Produce, 8)).toBe(0);
    expect(responseHeaderVersion(ApiKeys.Produce, 9)).toBe(1);
    expect(requestHeaderVersion(ApiKeys.Metadata, 9)).toBe(2);
  });

  it('are v0 for every ApiVersions response, even flexible or unknown versions (KIP-511)', () => {
    expect(requestHeaderVersion(ApiKeys.ApiVersions, 3)).toBe(2);
    expect(responseHeaderVersion(ApiKeys.ApiVersions, 3)).toBe(0);
    expect(responseHeaderVersion(ApiKeys.ApiVersions, 99)).toBe(0);
    expect(requestHeaderVersion(ApiKeys.ApiVersions, 99)).toBe(2);
  });
});

describe('frames', () => {
  it('a request frame parses back to its header and body', () => {
    const chunks = encodeRequestFrame(MetadataRequest, ApiKeys.Metadata, 12, 42, 'my-client', {
      topics: [{ name: 'orders', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
      allowAutoTopicCreation: false,
    });
    const { header, headerVersion, body } = parseRequestHeader(frameBody(chunks));
    expect(headerVersion).toBe(2);
    expect(header).toMatchObject({
      requestApiKey: 3,
      requestApiVersion: 12,
      correlationId: 42,
      clientId: 'my-client',
    });
    const req = MetadataRequest.decode(body, 12);
    expect(req.topics).toEqual([{ name: 'orders', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }]);
    expect(body.remaining).toBe(0);
  });

  it('keeps the client id a classic string in header v2 (its flexibleVersions are none)', () => {
    const body = frameBody(encodeRequestFrame(ApiVersionsRequest, ApiKeys.ApiVersions, 3, 1, 'abc', {}));
    // api key, version, correlation id, then int16 length 3 and "abc", then an empty tagged section
    expect(body.subarray(8, 13)).toEqual(Buffer.from([0, 3, 0x61, 0x62, 0x63]));
    expect(body[13]).toBe(0);
  });

  it('a response frame decodes for the request it answers', () => {
    const chunks = encodeResponseFrame(ApiVersionsResponse, ApiKeys.ApiVersions, 3, 7, {
      apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 11 }],
    });
    const { correlationId, body } = decodeResponseFrame(
      ApiVersionsResponse,
      ApiKeys.ApiVersions,
      3,
      frameBody(chunks),
    );
    expect(correlationId).toBe(7);
    expect(body.apiKeys).toEqual([{ apiKey: 0, minVersion: 0, maxVersion: 11 }]);
  });

  it('a too-short frame is a typed error', () => {
    expect(() => parseRequestHeader(Buffer.from([0, 1, 0]))).toThrow(/shorter than the 8 bytes/);
  });

  it('records travel by reference from a produce request body', () => {
    const records = Buffer.alloc(32 * 1024, 1);
    const chunks = encodeRequestFrame(ProduceRequest, ApiKeys.Produce, 9, 1, null, {
      acks: -1,
      timeoutMs: 1000,
      topicData: [{ name: 't', partitionData: [{ index: 0, records }] }],
    });
    expect(chunks).toContain(records);
    const { body } = parseRequestHeader(frameBody(chunks));
    const decoded = ProduceRequest.decode(body, 9);
    expect(decoded.topicData[0]!.partitionData[0]!.records!.equals(records)).toBe(true);
  });
});
