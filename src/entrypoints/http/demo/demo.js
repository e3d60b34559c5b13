// The demo page, built on @presence-gateway/client as a chat app would use it: the client
// asks for a token on every reconnect, watches the list again after one and drops stale
// updates. Each watched user shows their devices (an icon per device kind, dimmed while
// idle) and their custom status. Everything shown is set through textContent, so user
// ids, status names, device kinds and custom texts are never read as HTML.

(async () => {
  const config = JSON.parse(document.getElementById("demo-config").textContent);
  const statuses = new Map(config.statuses.map((status) => [status.name, status]));
  const $ = (id) => document.getElementById(id);
  const MAX_USER_ID = 255;
  const KEPT = "presence-demo"; // sessionStorage: this tab's user and watch list, across reloads
  const MISSING_CLIENT =
    "The presence client is not installed on this gateway. Install Node.js and npm, " +
    "then run `make run` again (it runs `npm ci --prefix web` and builds clients/js).";

  const state = {
    userId: null,
    token: null,
    client: null,
    PresenceClient: null,
    loaded: null, // a promise: whether the client's module is here (see loadClient)
    connections: 0,
    watching: new Map(), // userId → { row, status, lastSeen, devices, customStatus }
  };
  // The built-in device kinds have an icon (served beside this script); any other kind a
  // team names shows the generic one.
  const DEVICE_ICONS = new Set(["web", "desktop", "mobile"]);

  // ---- what the page shows -------------------------------------------------------------

  function setConnection(name, text) {
    const element = $("connection");
    element.dataset.state = name;
    element.textContent = text;
  }

  function showProblem(text) {
    $("problem").textContent = text || "";
    $("problem").hidden = !text;
  }

  function countsAsOnline(name) {
    const status = statuses.get(name);
    return status ? status.online : name !== "OFFLINE";
  }

  function paint(element, name) {
    element.dataset.status = name || "";
    element.dataset.online = String(Boolean(name) && countsAsOnline(name));
    element.querySelector(".status-text").textContent = name || "unknown";
  }

  function clockText(iso) {
    const at = new Date(iso);
    if (Number.isNaN(at.getTime())) return null;
    return at.toDateString() === new Date().toDateString() ? at.toLocaleTimeString() : at.toLocaleString();
  }

  function lastSeenText(entry, element) {
    element.replaceChildren();
    if (entry.status === "denied") {
      element.textContent = "not allowed to watch this user";
    } else if (!entry.status) {
      element.textContent = "waiting for the gateway";
    } else if (countsAsOnline(entry.status)) {
      element.textContent = "online now";
    } else if (entry.lastSeen && clockText(entry.lastSeen)) {
      const time = document.createElement("time");
      time.dateTime = entry.lastSeen;
      time.textContent = clockText(entry.lastSeen);
      element.append("last seen ", time);
    } else {
      element.textContent = "last seen: not known";
    }
  }

  function devicesShown(entry, element) {
    element.replaceChildren();
    for (const [kind, deviceState] of Object.entries(entry.devices || {}).sort(([a], [b]) => a.localeCompare(b))) {
      const icon = document.createElement("img");
      icon.className = "device";
      icon.dataset.device = kind;
      icon.dataset.state = deviceState;
      icon.src = `/demo/assets/device-${DEVICE_ICONS.has(kind) ? kind : "other"}.svg`;
      icon.alt = `${kind}: ${deviceState}`;
      icon.title = icon.alt;
      element.append(icon);
    }
  }

  function customShown(entry, element) {
    const custom = entry.customStatus;
    element.hidden = !custom;
    element.querySelector(".custom-emoji").textContent = custom && custom.emoji ? custom.emoji : "";
    element.querySelector(".custom-text").textContent = custom ? custom.text : "";
    const until = custom && custom.expiresAt ? clockText(custom.expiresAt) : null;
    element.querySelector(".custom-until").textContent = until ? `until ${until}` : "";
  }

  function render(entry) {
    const row = entry.row;
    devicesShown(entry, row.querySelector(".devices"));
    customShown(entry, row.querySelector(".custom"));
    if (entry.status === "denied") {
      row.dataset.status = "denied";
      row.dataset.online = "false";
      row.querySelector(".status-text").textContent = "hidden";
    } else {
      paint(row, entry.status);
    }
    lastSeenText(entry, row.querySelector(".last-seen"));
  }

  function showOwn(name) {
    paint($("me-presence"), name);
    const select = $("my-status");
    if ([...select.options].some((option) => option.value === name)) select.value = name;
  }

  // ---- the watch list ------------------------------------------------------------------

  function addRow(userId) {
    const row = document.createElement("li");
    row.dataset.userId = userId;
    const dot = document.createElement("span");
    dot.className = "dot";
    dot.setAttribute("aria-hidden", "true");
    const user = document.createElement("span");
    user.className = "user";
    user.textContent = userId;
    const text = document.createElement("span");
    text.className = "status-text";
    const lastSeen = document.createElement("span");
    lastSeen.className = "last-seen";
    const devices = document.createElement("span");
    devices.className = "devices";
    const custom = document.createElement("span");
    custom.className = "custom";
    for (const part of ["custom-emoji", "custom-text", "custom-until"]) {
      const span = document.createElement("span");
      span.className = part;
      custom.append(span);
    }
    const stop = document.createElement("button");
    stop.type = "button";
    stop.textContent = "Stop watching";
    stop.setAttribute("aria-label", `Stop watching ${userId}`);
    stop.addEventListener("click", () => unwatch(userId));
    row.append(dot, user, text, devices, lastSeen, stop, custom);
    $("watch-list").append(row);
    const entry = { row, status: null, lastSeen: null, devices: {}, customStatus: null };
    state.watching.set(userId, entry);
    render(entry);
    $("watch-empty").hidden = true;
  }

  // The client keeps each user's presence (the newest seq it applied, the last seen time).
  function setSeen(userId, presence) {
    const entry = state.watching.get(userId);
    if (!entry) return;
    entry.status = presence ? presence.status : "denied";
    entry.lastSeen = presence ? presence.lastSeen : null;
    entry.devices = presence ? presence.devices : {};
    entry.customStatus = presence ? presence.customStatus : null;
    render(entry);
  }

  function showPresence(presence) {
    if (presence.userId === state.userId) showOwn(presence.status);
    if (state.watching.has(presence.userId)) setSeen(presence.userId, presence);
  }

  async function subscribe(userIds) {
    const client = state.client;
    if (!userIds.length || !client) return; // watched by the client once it connects
    try {
      const reply = await client.watch(userIds);
      if (client !== state.client) return;
      for (const seen of reply.presence) showPresence(seen);
      for (const userId of reply.denied) setSeen(userId, null);
      $("watch-list").dataset.subscribed = String(Number($("watch-list").dataset.subscribed || 0) + 1);
    } catch (error) {
      if (client === state.client) showProblem(`The gateway refused the watch request: ${error.message} (${error.code})`);
    }
  }

  function unwatch(userId) {
    const entry = state.watching.get(userId);
    if (!entry) return;
    entry.row.remove();
    state.watching.delete(userId);
    $("watch-empty").hidden = state.watching.size > 0;
    keep();
    if (state.client) state.client.unwatch([userId]).catch(() => undefined);
    $("watch-id").focus();
  }

  // ---- the connection ------------------------------------------------------------------

  async function fetchToken(userId) {
    const response = await fetch(config.tokenEndpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ userId }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
    return body.token;
  }

  function connect() {
    let asked = 0;
    if (state.client) state.client.close(); // one socket per page, whatever signed in twice
    const client = new state.PresenceClient({
      url: location.origin,
      device: "web",
      // Asked on every (re)connect: after the first, a development token is fetched afresh.
      token: () => (asked++ > 0 && config.tokenEndpoint ? fetchToken(state.userId) : state.token),
    });
    state.client = client;
    const mine = () => client === state.client;

    client.on("state", (name) => {
      if (!mine()) return;
      if (name === "connecting") setConnection("connecting", "Connecting…");
      else if (name === "reconnecting") setConnection("reconnecting", "Reconnecting… (connection lost)");
      else if (name === "connected") {
        state.connections += 1;
        $("connection").dataset.connections = String(state.connections);
        setConnection("connected", `Connected as ${state.userId}`);
        showProblem("");
        if (client.me) showOwn(client.me.status);
      }
    });
    client.on("presence", (presence) => mine() && showPresence(presence));
    client.on("me", (presence) => mine() && showOwn(presence.status));
    client.on("error", (error) => {
      if (!mine()) return;
      if (client.state === "closed") setConnection("refused", "Not connected");
      showProblem(`The gateway refused: ${error.message} (${error.code})`);
    });

    client.connect().then(
      (connected) => {
        if (!mine()) return;
        if (connected.userId !== state.userId) {
          state.userId = connected.userId; // the token's user, whatever was typed
          $("me-id").textContent = connected.userId;
          setConnection("connected", `Connected as ${state.userId}`);
          keep();
        }
        showOwn(connected.status);
        subscribe([...state.watching.keys()]);
      },
      (error) => {
        if (!mine()) return;
        setConnection("refused", "Not connected");
        showProblem(`The gateway refused the connection: ${error.message}`);
      },
    );
  }

  // ---- the forms -----------------------------------------------------------------------

  function validUserId(input) {
    const value = input.value.trim();
    const ok = value.length > 0 && value.length <= MAX_USER_ID && !/[\u0000-\u001f\u007f]/.test(value);
    input.setAttribute("aria-invalid", String(!ok));
    if (!ok) {
      showProblem(`A user id is 1 to ${MAX_USER_ID} printable characters.`);
      input.focus();
    }
    return ok ? value : null;
  }

  function keep() {
    const kept = { userId: state.userId, watching: [...state.watching.keys()] };
    try {
      sessionStorage.setItem(KEPT, JSON.stringify(kept));
    } catch (_) {
      // storage refused (private mode): the page works without it
    }
  }

  function kept() {
    try {
      const value = JSON.parse(sessionStorage.getItem(KEPT) || "{}");
      return value && typeof value === "object" ? value : {};
    } catch (_) {
      return {};
    }
  }

  async function signIn(userId) {
    if (!(await state.loaded)) return; // no client: the page says so
    let token;
    try {
      token = config.tokenEndpoint ? await fetchToken(userId) : $("token").value.trim();
    } catch (error) {
      showProblem(`No token for ${userId}: ${error.message}`);
      return;
    }
    if (!token) {
      showProblem("Paste an access token for this user: this gateway hands out none.");
      $("token").focus();
      return;
    }
    state.userId = userId;
    state.token = token;
    keep();
    $("me-id").textContent = userId;
    $("sign-in").hidden = true;
    $("me").hidden = false;
    showOwn("");
    showProblem("");
    connect();
    $("my-status").focus();
  }

  function signOut() {
    const client = state.client;
    state.client = null;
    if (client) client.close();
    state.userId = null;
    keep();
    for (const entry of state.watching.values()) {
      entry.status = null;
      render(entry);
    }
    $("me").hidden = true;
    $("sign-in").hidden = false;
    setConnection("signed-out", "Not connected");
    $("user-id").focus();
  }

  /** The client's module, loading while the page is already usable: a sign-in made before
   * it is here (a slow network, a quick Enter) waits for it instead of failing. */
  async function loadClient() {
    try {
      if (config.clientScript) state.PresenceClient = (await import("/demo/assets/client/index.js")).PresenceClient;
    } catch (_) {
      // shown by setUp
    }
    return Boolean(state.PresenceClient);
  }

  async function setUp() {
    state.loaded = loadClient();
    for (const status of config.statuses) {
      if (!status.choosable) continue;
      const option = document.createElement("option");
      option.value = status.name;
      option.textContent = status.seenAs === status.name ? status.name : `${status.name} (others see ${status.seenAs})`;
      $("my-status").append(option);
    }
    $("token-field").hidden = Boolean(config.tokenEndpoint);

    $("sign-in").addEventListener("submit", (event) => {
      event.preventDefault();
      const userId = validUserId($("user-id"));
      if (userId) signIn(userId);
    });
    $("status-form").addEventListener("submit", (event) => {
      event.preventDefault();
      if (!state.client || state.client.state !== "connected") return showProblem("Not connected: the status is not sent.");
      state.client.setStatus($("my-status").value).then(
        () => showProblem(""),
        (error) => showProblem(`The gateway refused: ${error.message} (${error.code})`),
      );
    });
    $("custom-form").addEventListener("submit", (event) => {
      event.preventDefault();
      if (!state.client || state.client.state !== "connected") return showProblem("Not connected: the custom status is not sent.");
      const text = $("custom-text").value.trim();
      const emoji = $("custom-emoji").value.trim();
      const minutes = Number($("custom-minutes").value);
      const custom = text ? { text, emoji: emoji || null } : null; // no text: cleared
      if (custom && minutes > 0) custom.expiresAt = new Date(Date.now() + minutes * 60_000);
      state.client.setCustomStatus(custom).then(
        () => showProblem(""),
        (error) => showProblem(`The gateway refused: ${error.message} (${error.code})`),
      );
    });
    $("sign-out").addEventListener("click", signOut);
    $("watch-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const userId = validUserId($("watch-id"));
      if (!userId) return;
      if (userId === state.userId) return showProblem("That is you: your own status is shown above.");
      if (state.watching.has(userId)) return showProblem(`You already watch ${userId}.`);
      showProblem("");
      addRow(userId);
      keep();
      subscribe([userId]);
      $("watch-id").value = "";
    });

    if (!(await state.loaded)) {
      setConnection("unavailable", "No Socket.IO client");
      showProblem(MISSING_CLIENT);
      $("sign-in").querySelector("button").disabled = true;
      return;
    }
    const previous = kept();
    for (const userId of Array.isArray(previous.watching) ? previous.watching : []) {
      if (typeof userId === "string" && !state.watching.has(userId)) addRow(userId);
    }
    if (typeof previous.userId === "string") {
      $("user-id").value = previous.userId;
      if (config.tokenEndpoint) signIn(previous.userId);
    }
  }

  await setUp();
})();
