// One Roo Code turn against the gateway, as Roo Code v3.52.1 makes it, with the openai npm package at Roo's
// version (5.12.2, installed by dev.py into .cache/npm). Only the request and error paths are replicated:
//
//   native  src/api/providers/openai-native.ts ("OpenAI" provider): `client.responses.create({..., stream:
//           true})`; on ANY SDK error it re-sends the same body with plain `fetch` to `${baseUrl}/v1/responses`
//           and parses `data: ` lines itself. Its handler reads text deltas and `response.completed`, and
//           ignores `error` / `response.failed` events: a turn that yields no text is Roo's "The model
//           returned no assistant messages" (an empty turn, no retry).
//   compat  src/api/providers/openai.ts ("OpenAI Compatible" provider): `client.chat.completions.create({...,
//           stream: true, stream_options: {include_usage: true}, temperature: 0})`; errors surface as the SDK
//           raised them (Roo retries only what the SDK retried).
//
// SDK defaults as Roo leaves them: maxRetries 2, which honours Retry-After / retry-after-ms below 60 s.
// Usage: node roo_replica.mjs native|compat BASE_URL KEY MODEL
// Prints one JSON line: {outcome: "completed"|"empty"|"error", status, text, wire: [statuses on the wire]}.
import { createRequire } from "node:module";
import path from "node:path";

const [mode, baseUrl, apiKey, model] = process.argv.slice(2);
const npmRoot = process.env.ROO_OPENAI_NODE_MODULES;
const require = createRequire(path.join(npmRoot, "noop.js"));
const { default: OpenAI } = require("openai");

const wire = [];
async function countingFetch(url, init) {
  const response = await fetch(url, init);
  wire.push({ path: new URL(url).pathname, status: response.status, retryAfter: response.headers.get("retry-after") });
  return response;
}

const headers = { originator: "roo-code", session_id: "replica-session", "User-Agent": "roo-code/3.52.1 (replica)" };

async function nativeTurn() {
  const client = new OpenAI({ baseURL: baseUrl, apiKey, defaultHeaders: headers, fetch: countingFetch });
  const requestBody = {
    model,
    input: [{ role: "user", content: [{ type: "input_text", text: "Say hello." }] }],
    stream: true,
    store: false,
    instructions: "You are Roo.",
    reasoning: { effort: "medium", summary: "auto" },
    include: ["reasoning.encrypted_content"],
    max_output_tokens: 128000,
  };
  let text = "";
  try {
    const stream = await client.responses.create(requestBody);
    for await (const event of stream) {
      if (event.type === "response.output_text.delta" || event.type === "response.text.delta") text += event.delta;
    }
  } catch (sdkErr) {
    // Roo: "fallback to manual SSE via fetch" on any SDK error, same body.
    const response = await countingFetch(`${baseUrl}/v1/responses`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Authorization: `Bearer ${apiKey}`,
        Accept: "text/event-stream",
        ...headers,
      },
      body: JSON.stringify(requestBody),
    });
    if (!response.ok) {
      return { outcome: "error", status: response.status, text, sdkStatus: sdkErr?.status ?? null };
    }
    const body = await response.text();
    for (const line of body.split("\n")) {
      if (!line.startsWith("data: ")) continue;
      let event;
      try {
        event = JSON.parse(line.slice(6));
      } catch {
        continue;
      }
      if (event.type === "response.output_text.delta" || event.type === "response.text.delta") text += event.delta;
    }
  }
  return { outcome: text ? "completed" : "empty", status: 200, text };
}

async function compatTurn() {
  const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey, defaultHeaders: headers, fetch: countingFetch });
  let text = "";
  try {
    const stream = await client.chat.completions.create({
      model,
      messages: [
        { role: "system", content: "You are Roo." },
        { role: "user", content: "Say hello." },
      ],
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) text += chunk.choices?.[0]?.delta?.content ?? "";
  } catch (err) {
    return { outcome: "error", status: err?.status ?? null, text, message: String(err?.message ?? err) };
  }
  return { outcome: text ? "completed" : "empty", status: 200, text };
}

const started = Date.now();
const result = mode === "native" ? await nativeTurn() : await compatTurn();
console.log(JSON.stringify({ ...result, wire, seconds: (Date.now() - started) / 1000 }));
