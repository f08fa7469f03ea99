#ifndef CUTOVER_HOST_H
#define CUTOVER_HOST_H

/// Moves the calling thread into the network namespace open as `fd` (setns with CLONE_NEWNET). 0, or -1 with errno.
int cutover_enter_network_namespace(int fd);

/// Opens a close-on-exec raw packet socket (AF_PACKET, SOCK_RAW) for the EtherType `protocol`, bound to the
/// interface `ifindex` of the calling thread's network namespace. The socket, or -1 with errno.
int cutover_open_packet_socket(int ifindex, unsigned short protocol);

/// The index and MAC address of the interface `name` in the calling thread's network namespace. 0, or -1 with errno
/// (ENODEV: no such interface; EAFNOSUPPORT: it has no 6-byte link-layer address).
int cutover_interface_link(const char *name, int *ifindex, unsigned char mac[6]);

#endif

#ifndef CUTOVER_HOST_ADDRESS_H
#define CUTOVER_HOST_ADDRESS_H
/// Adds (`add` 1) or removes (`add` 0) the address `address` (4 or 16 bytes, `family` AF_INET or AF_INET6) with
/// `prefix_length` on interface `ifindex` of the calling thread's network namespace, over rtnetlink, and waits for
/// the kernel's answer. `no_dad`: an IPv6 address is usable at once (IFA_F_NODAD). 0, or -1 with errno
/// (EEXIST: already there; EADDRNOTAVAIL: not there to remove).
int cutover_change_address(int add, int family, const unsigned char *address, int prefix_length, int ifindex, int no_dad);
#endif

#ifndef CUTOVER_HOST_PROCESS_H
#define CUTOVER_HOST_PROCESS_H
/// A pipe whose two ends are close-on-exec (pipe2 with O_CLOEXEC). 0, or -1 with errno.
int cutover_pipe(int fds[2]);

/// Adds "close every descriptor from `from` up" to a `posix_spawn_file_actions_t` (glibc 2.34's
/// posix_spawn_file_actions_addclosefrom_np). 0, or an error number.
int cutover_spawn_close_from(void *actions, int from);
#endif
