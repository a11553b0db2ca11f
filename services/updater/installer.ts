/**
 * What the updater needs from the update engine. RAUC implements it on the device (rauc.ts); the engine
 * owns the slots, the signature check and the boot switch, the updater only decides when.
 */
import { AppError } from '../shared/errors.ts';
import type { SlotReport } from '../shared/ipc.ts';

export interface BundleInfo {
  compatible: string;
  version: string;
}

export interface Installer {
  /** Verifies the signature and reads the manifest; a bad or damaged bundle is refused with its reason. */
  inspect(bundle: string): Promise<BundleInfo>;
  /** Writes the bundle into the slot not running and makes it the next boot's; progress 0–100. */
  install(bundle: string, onProgress: (percent: number, message: string) => void): Promise<void>;
  slots(): Promise<SlotReport>;
  /** Makes the other slot (the one that ran before the last update) the next boot's. */
  activateOther(): Promise<void>;
  /** This boot is healthy: the boot loader gets the running slot's tries back. */
  markGood(): Promise<void>;
  /** This boot is not healthy: the boot loader leaves the running slot out from now on. */
  markBad(): Promise<void>;
}

/**
 * No engine (PRINTBOX_UPDATE_ENGINE=none, `npm start`): checking and downloading work, installing is refused
 * and nothing marks or restarts the machine this runs on.
 */
export function noEngine(): Installer {
  const refuse = async (): Promise<never> => {
    throw new AppError('update_engine_missing', 503, 'This installation has no update engine (PRINTBOX_UPDATE_ENGINE=none): only the PrintBox image installs updates');
  };
  return { inspect: refuse, install: refuse, slots: refuse, activateOther: refuse, markGood: async () => undefined, markBad: async () => undefined };
}
