/**
 * What an S3 request asks IAM for under `celeriac up`, as S3 authorizes it: object actions on the
 * object's ARN, bucket actions on the bucket's, each key of a batch delete on its own.
 */
import { describe, expect, it } from 'vitest';
import { s3Requests } from '../../lib/up/iam';

const ask = (method: string, bucket: string, key: string, query = '', headers: Record<string, string> = {}, body = '') =>
  s3Requests(method, bucket, key, new URLSearchParams(query), headers, body);

describe('s3Requests', () => {
  it('GetObject, HeadObject, PutObject and DeleteObject name the object (the SDK adds x-id, which is not a subresource)', () => {
    expect(ask('GET', 'b', 'shop/a', 'x-id=GetObject')).toEqual([{ action: 's3:GetObject', resource: 'arn:aws:s3:::b/shop/a' }]);
    expect(ask('HEAD', 'b', 'shop/a')).toEqual([{ action: 's3:GetObject', resource: 'arn:aws:s3:::b/shop/a' }]);
    expect(ask('PUT', 'b', 'shop/a', 'x-id=PutObject')).toEqual([{ action: 's3:PutObject', resource: 'arn:aws:s3:::b/shop/a' }]);
    expect(ask('DELETE', 'b', 'shop/a', 'x-id=DeleteObject')).toEqual([{ action: 's3:DeleteObject', resource: 'arn:aws:s3:::b/shop/a' }]);
    expect(ask('GET', 'b', 'shop/a', 'versionId=1')).toEqual([{ action: 's3:GetObjectVersion', resource: 'arn:aws:s3:::b/shop/a' }]);
  });

  it('multipart uploads write the object; aborting one is AbortMultipartUpload; a copy also reads its source', () => {
    for (const [method, query] of [
      ['POST', 'uploads'],
      ['PUT', 'partNumber=1&uploadId=u'],
      ['POST', 'uploadId=u'],
    ] as const)
      expect(ask(method, 'b', 'shop/big', query)).toEqual([{ action: 's3:PutObject', resource: 'arn:aws:s3:::b/shop/big' }]);
    expect(ask('DELETE', 'b', 'shop/big', 'uploadId=u')).toEqual([
      { action: 's3:AbortMultipartUpload', resource: 'arn:aws:s3:::b/shop/big' },
    ]);
    expect(ask('PUT', 'b', 'shop/copy', '', { 'x-amz-copy-source': '/other/secret%20key' })).toEqual([
      { action: 's3:PutObject', resource: 'arn:aws:s3:::b/shop/copy' },
      { action: 's3:GetObject', resource: 'arn:aws:s3:::other/secret key' },
    ]);
  });

  it('DeleteObjects asks for DeleteObject on every key of its body', () => {
    const body = '<Delete><Object><Key>shop/a</Key></Object><Object><Key>other/&lt;b&gt;</Key></Object></Delete>';
    expect(ask('POST', 'b', '', 'delete', {}, body)).toEqual([
      { action: 's3:DeleteObject', resource: 'arn:aws:s3:::b/shop/a' },
      { action: 's3:DeleteObject', resource: 'arn:aws:s3:::b/other/<b>' },
    ]);
  });

  it('bucket requests name the bucket: listing and HeadBucket are ListBucket, subresources their own action', () => {
    expect(ask('GET', 'b', '', 'list-type=2&prefix=shop%2F')).toEqual([{ action: 's3:ListBucket', resource: 'arn:aws:s3:::b' }]);
    expect(ask('HEAD', 'b', '')).toEqual([{ action: 's3:ListBucket', resource: 'arn:aws:s3:::b' }]);
    expect(ask('PUT', 'b', '')).toEqual([{ action: 's3:CreateBucket', resource: 'arn:aws:s3:::b' }]);
    expect(ask('GET', 'b', '', 'location')).toEqual([{ action: 's3:GetBucketLocation', resource: 'arn:aws:s3:::b' }]);
    expect(ask('PUT', 'b', '', 'lifecycle')).toEqual([{ action: 's3:PutLifecycleConfiguration', resource: 'arn:aws:s3:::b' }]);
    expect(ask('GET', '', '')).toEqual([{ action: 's3:ListAllMyBuckets', resource: '*' }]);
  });
});
