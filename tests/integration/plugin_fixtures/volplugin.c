/* A minimal Docker volume plugin for barge's managed-plugin test, built with gcc -static.
 *
 * It listens on /run/docker/plugins/vol.sock, answers one HTTP/1.1 POST per
 * connection with Docker's VolumeDriver protocol, and keeps each volume as a
 * directory /data/<name> of its own root file system. Names are checked
 * ([A-Za-z0-9_.-], not starting with a dot) so that no path leaves /data.
 * Each call is appended to /data/calls.log ("Method Name"), for the test.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SOCK "/run/docker/plugins/vol.sock"

static int valid(const char *name) {
    if (!name[0] || name[0] == '.') return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return 0;
    return strlen(name) < 200;
}

/* The value of "Name": "..." in a JSON body (no escapes in valid names). */
static void field(const char *body, const char *key, char *out, size_t size) {
    char pattern[32];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    out[0] = 0;
    const char *p = strstr(body, pattern);
    if (!p) return;
    p += strlen(pattern);
    while (*p == ' ' || *p == ':') p++;
    if (*p++ != '"') return;
    size_t n = 0;
    while (*p && *p != '"' && n + 1 < size) out[n++] = *p++;
    out[n] = 0;
}

static void reply(int fd, const char *json) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.plugins.v1+json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n", strlen(json));
    if (write(fd, head, n) < 0 || write(fd, json, strlen(json)) < 0) return;
}

static void empty_dir(const char *path) {
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    char child[1024];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        unlink(child);
    }
    closedir(d);
}

static void handle(int fd) {
    static char buf[65536];
    size_t len = 0;
    char *end = NULL;
    while (len < sizeof buf - 1) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0) break;
        len += n;
        buf[len] = 0;
        end = strstr(buf, "\r\n\r\n");
        if (end) {
            const char *cl = strcasestr(buf, "Content-Length:");
            size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
            if (len >= (size_t)(end + 4 - buf) + want) break;
        }
    }
    if (!end) return;
    char method[128] = "", name[256] = "", path[512], out[1024];
    sscanf(buf, "POST /%127s", method);
    const char *body = end + 4;
    field(body, "Name", name, sizeof name);
    FILE *log = fopen("/data/calls.log", "a");
    if (log) { fprintf(log, "%s %s\n", method, name); fclose(log); }
    if (!strcmp(method, "Plugin.Activate")) { reply(fd, "{\"Implements\":[\"VolumeDriver\"]}"); return; }
    if (!strcmp(method, "VolumeDriver.Capabilities")) { reply(fd, "{\"Capabilities\":{\"Scope\":\"local\"}}"); return; }
    if (!strcmp(method, "VolumeDriver.List")) { reply(fd, "{\"Volumes\":[],\"Err\":\"\"}"); return; }
    if (!valid(name)) { reply(fd, "{\"Err\":\"invalid volume name\"}"); return; }
    snprintf(path, sizeof path, "/data/%s", name);
    if (!strcmp(method, "VolumeDriver.Create")) {
        if (mkdir(path, 0755) < 0 && errno != EEXIST) { reply(fd, "{\"Err\":\"mkdir failed\"}"); return; }
        reply(fd, "{\"Err\":\"\"}");
    } else if (!strcmp(method, "VolumeDriver.Remove")) {
        empty_dir(path);
        rmdir(path);
        reply(fd, "{\"Err\":\"\"}");
    } else if (!strcmp(method, "VolumeDriver.Mount") || !strcmp(method, "VolumeDriver.Path")) {
        snprintf(out, sizeof out, "{\"Mountpoint\":\"%s\",\"Err\":\"\"}", path);
        reply(fd, out);
    } else if (!strcmp(method, "VolumeDriver.Get")) {
        snprintf(out, sizeof out, "{\"Volume\":{\"Name\":\"%s\",\"Mountpoint\":\"%s\"},\"Err\":\"\"}", name, path);
        reply(fd, out);
    } else if (!strcmp(method, "VolumeDriver.Unmount")) {
        reply(fd, "{\"Err\":\"\"}");
    } else {
        reply(fd, "{\"Err\":\"unknown method\"}");
    }
}

static void stop(int sig) {
    (void)sig;
    unlink(SOCK);
    _exit(0);
}

int main(void) {
    signal(SIGTERM, stop); /* as the init of its pid namespace, it gets SIGTERM only with a handler */
    mkdir("/data", 0755);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, SOCK, sizeof addr.sun_path - 1);
    unlink(SOCK);
    if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 16) < 0) {
        perror("listen " SOCK);
        return 1;
    }
    fprintf(stderr, "volume plugin listening on %s\n", SOCK);
    for (;;) {
        int fd = accept(s, NULL, NULL);
        if (fd < 0) continue;
        handle(fd);
        close(fd);
    }
}
