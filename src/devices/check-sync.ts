/**
 * The check-sync Event header for a phone whose vendor is not known (no MAC, no matching profile, no
 * provisioning): the generic form most phones accept. A known vendor's own form comes from its profile
 * (ProvisioningService.checkSyncEvent), which falls back to this; nothing else spells the default.
 */
export function genericCheckSyncEvent(reboot: boolean): string {
  return reboot ? 'check-sync;reboot=true' : 'check-sync';
}
