#define _GNU_SOURCE
#include "cutover_host.h"

#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int cutover_enter_network_namespace(int fd) {
    return setns(fd, CLONE_NEWNET);
}

int cutover_open_packet_socket(int ifindex, unsigned short protocol) {
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(protocol));
    if (fd < 0) return -1;
    struct sockaddr_ll address;
    memset(&address, 0, sizeof address);
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(protocol);
    address.sll_ifindex = ifindex;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int cutover_interface_link(const char *name, int *ifindex, unsigned char mac[6]) {
    struct ifaddrs *all = NULL;
    if (getifaddrs(&all) < 0) return -1;
    int found = -1;
    errno = ENODEV;
    for (struct ifaddrs *entry = all; entry != NULL; entry = entry->ifa_next) {
        if (entry->ifa_addr == NULL || entry->ifa_addr->sa_family != AF_PACKET || strcmp(entry->ifa_name, name) != 0) continue;
        const struct sockaddr_ll *link = (const struct sockaddr_ll *)entry->ifa_addr;
        if (link->sll_halen != 6) {
            errno = EAFNOSUPPORT;
            break;
        }
        *ifindex = link->sll_ifindex;
        memcpy(mac, link->sll_addr, 6);
        found = 0;
        break;
    }
    freeifaddrs(all);
    return found;
}

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_addr.h>

static void add_attribute(struct nlmsghdr *message, unsigned short type, const void *data, int length) {
    struct rtattr *attribute = (struct rtattr *)((char *)message + NLMSG_ALIGN(message->nlmsg_len));
    attribute->rta_type = type;
    attribute->rta_len = RTA_LENGTH(length);
    memcpy(RTA_DATA(attribute), data, length);
    message->nlmsg_len = NLMSG_ALIGN(message->nlmsg_len) + RTA_ALIGN(attribute->rta_len);
}

int cutover_change_address(int add, int family, const unsigned char *address, int prefix_length, int ifindex, int no_dad) {
    int length = family == AF_INET6 ? 16 : 4;
    struct {
        struct nlmsghdr header;
        struct ifaddrmsg body;
        char attributes[256];
    } request;
    memset(&request, 0, sizeof request);
    request.header.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
    request.header.nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
    request.header.nlmsg_seq = 1;
    request.body.ifa_family = family;
    request.body.ifa_prefixlen = prefix_length;
    request.body.ifa_index = ifindex;
    request.body.ifa_scope = RT_SCOPE_UNIVERSE;
    add_attribute(&request.header, IFA_LOCAL, address, length);
    /* A removal names the address by IFA_LOCAL alone: with IFA_ADDRESS too, an IPv4 address held with another
       prefix length would not be found, and the kernel's "not there" would be taken for "already gone". */
    if (add || family == AF_INET6) add_attribute(&request.header, IFA_ADDRESS, address, length);
    if (add && family == AF_INET6 && no_dad) {
        unsigned int flags = IFA_F_NODAD;
        add_attribute(&request.header, IFA_FLAGS, &flags, sizeof flags);
    }
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -1;
    struct sockaddr_nl kernel;
    memset(&kernel, 0, sizeof kernel);
    kernel.nl_family = AF_NETLINK;
    if (sendto(fd, &request, request.header.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    char answer[4096];
    for (;;) {
        ssize_t count = recv(fd, answer, sizeof answer, 0);
        if (count < 0) {
            if (errno == EINTR) continue;
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        for (struct nlmsghdr *message = (struct nlmsghdr *)answer; NLMSG_OK(message, (unsigned int)count);
             message = NLMSG_NEXT(message, count)) {
            if (message->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *error = (struct nlmsgerr *)NLMSG_DATA(message);
                close(fd);
                if (error->error == 0) return 0;
                errno = -error->error;
                return -1;
            }
        }
    }
}

#include <fcntl.h>
#include <spawn.h>

int cutover_pipe(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int cutover_spawn_close_from(void *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, from);
}
