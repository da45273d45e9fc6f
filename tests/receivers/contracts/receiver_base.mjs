// The HTTP plumbing the Node contract receivers share: each receiver file
// holds only its contract's verification. serve(verify): verify(headers,
// rawBody) returns what it read (answered 200, printed "VERIFIED <json>")
// or throws (answered 401, printed "INVALID <reason>"). Prints
// "LISTENING <port>" once ready; the port is argv[2], the secret is in
// WEBHOOK_SECRET.
import http from 'node:http';

export const secret = () => process.env.WEBHOOK_SECRET ?? '';

export function serve(verify) {
  const port = Number(process.argv[2]);
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      try {
        const seen = verify(req.headers, rawBody);
        console.log('VERIFIED ' + JSON.stringify(seen));
        res.writeHead(200, { 'content-length': '0' }).end();
      } catch (err) {
        console.log(`INVALID ${err.message}`);
        res.writeHead(401, { 'content-length': '0' }).end();
      }
    });
  });
  server.listen(port, '127.0.0.1', () => console.log(`LISTENING ${port}`));
}
