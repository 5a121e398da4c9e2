// Package bmcsim simulates Redfish BMCs so that real bmclib (v2.3.5, redfish
// provider "gofish") code can be driven against them in tests and in
// `tinman dev`, from one BMC to a fleet of thousands in one process.
//
// Each BMC serves HTTPS on a loopback port with a self-signed ECDSA P-256
// certificate generated in memory (RootCAs returns a pool that trusts it).
// Its documents come from a curated subset of the DMTF public-rackmount1
// mockup (BSD-3-Clause, mockup/LICENSE.md), with system, chassis and manager
// ids "1"; links to resources that are not served were removed.
//
// # Endpoints
//
// The set was taken from recording every request bmclib's redfish provider
// makes per bmclib call against DMTF's mockup server:
//
//	GET    /redfish, /redfish/v1/                 version document, service root (no auth)
//	POST   /redfish/v1/SessionService/Sessions    login (no auth): 201, X-Auth-Token, Location
//	GET    /redfish/v1/SessionService[/Sessions[/{id}]]
//	DELETE /redfish/v1/SessionService/Sessions/{id}   logout: 204
//	GET    /redfish/v1/Systems, /Systems/1        PowerState, Boot override: Open, GetPowerState, every call
//	POST   /redfish/v1/Systems/1/Actions/ComputerSystem.Reset   SetPowerState, SendNMI
//	PATCH  /redfish/v1/Systems/1                  SetBootDevice (Boot.BootSourceOverride*)
//	GET    /redfish/v1/Managers, /Managers/1      ResetBMC, inventory
//	POST   /redfish/v1/Managers/1/Actions/Manager.Reset         ResetBMC
//	GET    /redfish/v1/Managers/1/VirtualMedia[/CD]             SetVirtualMedia, and its readback
//	POST   .../CD/Actions/VirtualMedia.{InsertMedia,EjectMedia}
//	GET    Chassis/1[/Power,/Thermal], Systems/1/{Processors,Memory,
//	       EthernetInterfaces,SimpleStorage,Bios}/..., UpdateService/
//	       FirmwareInventory/{BMC,BIOS}               Inventory, GetBiosConfiguration
//	GET    Systems/1/NetworkInterfaces/NIC.Slot.1, Chassis/1/NetworkAdapters/
//	       NIC.Slot.1/NetworkPorts/NIC.Slot.1-1       Inventory NICs (not in the
//	                                                  mockup; added so NICs carry a MAC)
//	GET    AccountService/Accounts/1                  ReadUsers
//	GET    Managers/1/LogServices/Log/Entries/1       GetSystemEventLog
//
// Every request other than the service root, the version document and login
// needs a valid X-Auth-Token or HTTP Basic credentials, else 401. Responses
// use only the status codes gofish accepts as success (200, 201, 204); errors
// are Redfish error documents. No ETags are sent, so gofish sends no If-Match.
//
// # Host model
//
// The host's power state follows the accepted ComputerSystem.Reset types
// (see the ResetType list in Systems/1): On/ForceOn power on; ForceOff and
// GracefulShutdown power off; PushPowerButton toggles; PowerCycle,
// ForceRestart and GracefulRestart report Off for Config.PowerTransition and
// then On, and power an Off host on (as iDRAC does for PowerCycle); Nmi is
// only logged. With a PowerTransition, PowerState shows a change only after
// the delay. A "Once" boot override is consumed (BootSourceOverrideEnabled
// back to "Disabled", target kept, as the Redfish schema says) when the host
// next boots, i.e. when it reaches On after a power on, cycle or restart.
//
// Each BMC reports its own random Identity (serial number, UUID, NIC MAC)
// unless Config.Identity sets it, so that fleet members can be told apart.
// Manager.Reset is only logged: the simulated BMC "restarts" instantly and
// keeps its sessions.
//
// With Config.Host the host is real (a QEMU virtual machine, package qemu):
// each accepted power command is carried out on it before it is answered
// (On from Off starts it booting from the active override's target, ForceOff
// stops it, the restarts stop and start it with the target of that boot),
// virtual media is inserted into it and ejected from it, and PowerState is
// read from it, so a guest that halts reads Off. A Host that fails a command
// makes the BMC answer 500 and log nothing.
//
// Every accepted command is appended to a log (Commands) with its time, so a
// test can prove an operation happened exactly once, and handed to
// Config.OnCommand.
//
// # bmclib mapping and quirks (v2.3.5)
//
//	SetPowerState("on")    -> On          (nothing sent if already On)
//	SetPowerState("off")   -> ForceOff    (nothing sent if already Off)
//	SetPowerState("soft")  -> GracefulShutdown; bmclib then returns
//	                          (false, error) although the BMC accepted it
//	SetPowerState("cycle") -> ForceRestart; bmclib refuses if the host is Off
//	SetPowerState("reset") -> PowerCycle  (falls back to GracefulShutdown, a
//	                          9 s poll and On if PowerCycle is not allowed)
//	ResetBMC(ctx, t)       -> Manager.Reset t (ForceRestart, GracefulRestart)
//
// bmclib's redfish provider ignores the context of individual calls: the
// HTTP client timeout for every later request is fixed by Open, from the
// Open context's deadline (or the per-provider timeout, 30 s by default).
//
// # Faults
//
// Faults returns live knobs for hardware pathologies: latency, a 500 error
// rate, hanging requests, authentication failure, lying (success answered,
// nothing changed) and dropping off the network on the same port.
package bmcsim
