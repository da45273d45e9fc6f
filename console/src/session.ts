// The signed-in API key. It lives in sessionStorage only: never in a URL, a
// cookie or localStorage, so it is gone when the tab closes, is not sent
// with any request but the API calls that carry it, and never lands in a
// history entry or a server log.

const TOKEN = "hookrelay.token";
const ACCESS = "hookrelay.access";

/** What the key may do, learned at sign-in by asking the API (which decides). */
export interface Access {
  read: boolean;
  manage: boolean;
  /** The scope a scoped key is restricted to; "" for a tenant-wide key. */
  scope: string;
}

export interface Session {
  token: string;
  access: Access;
}

export function load(): Session | null {
  const token = sessionStorage.getItem(TOKEN);
  const access = sessionStorage.getItem(ACCESS);
  if (!token || !access) return null;
  try {
    const parsed = JSON.parse(access) as Partial<Access>;
    return {
      token,
      access: { read: parsed.read === true, manage: parsed.manage === true, scope: parsed.scope ?? "" },
    };
  } catch {
    return null;
  }
}

export function save(session: Session): void {
  sessionStorage.setItem(TOKEN, session.token);
  sessionStorage.setItem(ACCESS, JSON.stringify(session.access));
}

export function clear(): void {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(ACCESS);
}
