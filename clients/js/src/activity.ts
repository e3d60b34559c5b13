/**
 * Whether the person at this screen is there: no input for `idleAfterMs`, or a hidden
 * page, is idle; any input is active again. Only where there is a document (a browser,
 * or jsdom); in Node the application says so with `setActive`.
 */

const INPUT_EVENTS = ["pointerdown", "pointermove", "keydown", "wheel", "touchstart", "scroll", "focus"] as const;

export type ActivityListener = (active: boolean) => void;

export interface ActivityWatch {
  stop(): void;
}

interface Target {
  addEventListener(type: string, listener: () => void, options?: { passive?: boolean; capture?: boolean }): void;
  removeEventListener(type: string, listener: () => void, options?: { capture?: boolean }): void;
}

/** Watch the page's input and visibility; `report(false)` once idle, `report(true)` on
 * input after that. Returns null where there is no page to watch. */
export function watchActivity(idleAfterMs: number, report: ActivityListener): ActivityWatch | null {
  const doc = (globalThis as { document?: Document }).document;
  const win = (globalThis as { window?: Target }).window;
  if (!doc || !win || idleAfterMs <= 0) return null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let active = true;

  const goIdle = (): void => {
    timer = undefined;
    if (active) {
      active = false;
      report(false);
    }
  };
  const arm = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(goIdle, idleAfterMs);
  };
  const onInput = (): void => {
    if (doc.visibilityState === "hidden") return;
    arm();
    if (!active) {
      active = true;
      report(true);
    }
  };
  const onVisibility = (): void => {
    if (doc.visibilityState === "hidden") {
      if (timer !== undefined) clearTimeout(timer);
      goIdle();
    } else {
      onInput();
    }
  };

  const target = win as Target;
  for (const type of INPUT_EVENTS) target.addEventListener(type, onInput, { passive: true, capture: true });
  (doc as unknown as Target).addEventListener("visibilitychange", onVisibility);
  if (doc.visibilityState === "hidden") goIdle();
  else arm();

  return {
    stop(): void {
      if (timer !== undefined) clearTimeout(timer);
      for (const type of INPUT_EVENTS) target.removeEventListener(type, onInput, { capture: true });
      (doc as unknown as Target).removeEventListener("visibilitychange", onVisibility);
    },
  };
}
