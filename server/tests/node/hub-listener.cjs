// One official @microsoft/signalr connection that listens to a hub.
//
// Usage: node server/tests/node/hub-listener.cjs <hub-url> <json|messagepack> <key|-> <event>[,<event>...]
// Connects to <hub-url> (without automatic reconnect) in the given hub
// protocol (MessagePack through @microsoft/signalr-protocol-msgpack), with
// <key> as its access token unless it is "-" (the official client sends it
// as `Authorization: Bearer` on negotiate and, in node, on the WebSocket
// request too), and reports as one JSON object per stdout line:
//   {"event":"connected","connectionId"} {"event":"received","name","arg"}
//   {"event":"closed","error"} {"event":"error","error"}
// A line "stop" on stdin stops the connection and exits.
"use strict";

const signalR = require("@microsoft/signalr");
const { MessagePackHubProtocol } = require("@microsoft/signalr-protocol-msgpack");
const readline = require("node:readline");

const emit = (event) => {
  process.stdout.write(JSON.stringify(event) + "\n");
};

async function main() {
  const [url, protocol, key, events] = process.argv.slice(2);
  const options = key === "-" ? {} : { accessTokenFactory: () => key };
  let builder = new signalR.HubConnectionBuilder()
    .withUrl(url, options)
    .configureLogging(signalR.LogLevel.None);
  if (protocol === "messagepack") {
    builder = builder.withHubProtocol(new MessagePackHubProtocol());
  }
  const connection = builder.build();
  // Handlers must return nothing: a returned value is a client result.
  for (const name of events.split(",")) {
    connection.on(name, (arg) => {
      emit({ event: "received", name, arg });
    });
  }
  connection.onclose((error) => emit({ event: "closed", error: error ? String(error) : null }));
  try {
    await connection.start();
  } catch (error) {
    emit({ event: "error", error: String(error) });
    process.exit(1);
  }
  emit({ event: "connected", connectionId: connection.connectionId });
  const input = readline.createInterface({ input: process.stdin });
  for await (const line of input) {
    if (line.trim() === "stop") break;
  }
  await connection.stop();
  process.exit(0);
}

main().catch((error) => {
  emit({ event: "error", error: String(error) });
  process.exit(1);
});
