/**
 * Login as the linked cloud owner (CONTRACT.md: POST /api/auth/login {"email","password"}).
 * The web core only needs this interface; the cloud area implements it: check online,
 * falling back to an argon2id verifier cached at the last successful online check.
 */
export interface OwnerVerifier {
  /** The owner of the cloud link, or null when the device is unlinked (or offline-only). */
  linkedOwner(): Promise<{ email: string } | null>;
  /** True when `password` is the linked owner's. Called only after the email matched linkedOwner(). */
  verify(email: string, password: string): Promise<boolean>;
}

/** The device is not linked: nobody can log in with an email. */
export const unlinkedOwner: OwnerVerifier = {
  linkedOwner: async () => null,
  verify: async () => false,
};
