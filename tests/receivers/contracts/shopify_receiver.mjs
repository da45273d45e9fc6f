// Shopify's documented check: X-Shopify-Hmac-Sha256 is the base64
// HMAC-SHA256 of the raw body, keyed with the app's shared secret,
// compared with timingSafeEqual.
import crypto from 'node:crypto';
import { secret, serve } from './receiver_base.mjs';

serve((headers, rawBody) => {
  const received = Buffer.from(headers['x-shopify-hmac-sha256'] ?? '', 'base64');
  const expected = crypto.createHmac('sha256', secret()).update(rawBody).digest();
  if (received.length !== expected.length || !crypto.timingSafeEqual(received, expected)) {
    throw new Error('signature mismatch');
  }
  return {
    topic: headers['x-shopify-topic'],
    webhook_id: headers['x-shopify-webhook-id'],
    data: JSON.parse(rawBody.toString('utf8')),
  };
});
