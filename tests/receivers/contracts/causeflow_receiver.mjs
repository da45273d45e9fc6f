// Contract 2, "planned outbound webhooks": the body is the event data
// itself and X-CauseFlow-Signature is sha256=<hex HMAC-SHA256 of the raw
// body>, keyed with the secret exactly as typed. Verified as the contract
// documents: createHmac(...).digest('hex') and timingSafeEqual.
import crypto from 'node:crypto';
import { secret, serve } from './receiver_base.mjs';

serve((headers, rawBody) => {
  const received = headers['x-causeflow-signature'] ?? '';
  const expected = 'sha256=' + crypto.createHmac('sha256', secret()).update(rawBody).digest('hex');
  const a = Buffer.from(received);
  const b = Buffer.from(expected);
  if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) {
    throw new Error('signature mismatch');
  }
  return { data: JSON.parse(rawBody.toString('utf8')) };
});
