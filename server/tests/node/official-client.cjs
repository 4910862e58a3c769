// The official @microsoft/signalr client against signalscope sims.
//
// Usage: node server/tests/node/official-client.cjs <base-url>...
// Opens one HubConnection per base URL (hub /hubs/navigation-state, with
// automatic reconnect), invokes RequestCurrentState on each, and reports
// everything as one JSON object per stdout line:
//   {"event":"state"|"invoked"|"broadcast"|"reconnecting"|"reconnected"|"closed"|"ready"|"error", "index":i, ...}
// After every reconnect it invokes RequestCurrentState again, as the
// dashboard does. A line "stop" on stdin stops every connection and exits.
"use strict";

const signalR = require("@microsoft/signalr");
const readline = require("node:readline");

// Handlers must return nothing: a returned value makes the client log
// "Result given for ... but server is not expecting a result".
const emit = (event) => {
  process.stdout.write(JSON.stringify(event) + "\n");
};

async function open(url, index) {
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${url}/hubs/navigation-state`)
    .withAutomaticReconnect()
    .configureLogging(signalR.LogLevel.Warning)
    .build();
  // Conduit pings every 30 s; wait at least twice that (docs/WIRE.md §5).
  connection.serverTimeoutInMilliseconds = 60000;
  connection.on("StateUpdateRequested", (arg) => {
    emit({ event: "state", index, arg });
  });
  connection.on("NavigationStateUpdate", (arg) => {
    emit({ event: "broadcast", index, arg });
  });
  connection.onreconnecting((error) => emit({ event: "reconnecting", index, error: String(error) }));
  connection.onreconnected(async (connectionId) => {
    emit({ event: "reconnected", index, connectionId });
    try {
      const result = await connection.invoke("RequestCurrentState");
      emit({ event: "invoked", index, result });
    } catch (error) {
      emit({ event: "error", index, error: String(error) });
    }
  });
  connection.onclose((error) => emit({ event: "closed", index, error: String(error) }));
  await connection.start();
  const result = await connection.invoke("RequestCurrentState");
  emit({ event: "invoked", index, result, connectionId: connection.connectionId });
  return connection;
}

async function main() {
  const urls = process.argv.slice(2);
  const connections = await Promise.all(urls.map(open));
  emit({ event: "ready" });
  const input = readline.createInterface({ input: process.stdin });
  for await (const line of input) {
    if (line.trim() === "stop") break;
  }
  await Promise.all(connections.map((c) => c.stop()));
  process.exit(0);
}

main().catch((error) => {
  emit({ event: "error", error: String(error) });
  process.exit(1);
});
