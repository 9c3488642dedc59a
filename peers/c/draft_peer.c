/* The libzmq 4.3.5 side of weirmq's draft-option tests: a ROUTER with
 * ZMQ_ROUTER_NOTIFY, and a server whose ZAP handling ZMQ_ZAP_ENFORCE_DOMAIN
 * decides. It prints what it sees as lines on stdout; the tests run the same
 * scenario against weirmq and compare.
 *
 *   draft_peer router-notify ENDPOINT bind|connect FLAGS MESSAGES TIMEOUT_MS
 *     prints READY, then one line per message received: its frames in hex,
 *     an empty frame as "-".
 *
 *   draft_peer zap-server null|plain|curve ENDPOINT DOMAIN|- ENFORCE HANDLER
 *              TIMEOUT_MS
 *     a PULL server (CURVE: its secret key in Z85 in WEIRMQ_PEER_CURVE_SECRET),
 *     with a ZAP handler that allows everyone if HANDLER is 1; prints READY,
 *     then "ZAP DOMAIN MECHANISM" per ZAP request, "EVENT NAME" per handshake
 *     event and "RECV TEXT" per message; ends after the first message, or
 *     after a failed handshake, or at the timeout (printing TIMEOUT).
 *
 * Exit status 0 when it ended as expected, 1 on a timeout, 2 on an error. */
#include <zmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die (const char *what)
{
    fprintf (stderr, "draft_peer: %s: %s\n", what, zmq_strerror (zmq_errno ()));
    exit (2);
}

static void check (int rc, const char *what)
{
    if (rc == -1)
        die (what);
}

static void print_frame (const zmq_msg_t *msg)
{
    const unsigned char *data = (const unsigned char *) zmq_msg_data ((zmq_msg_t *) msg);
    size_t size = zmq_msg_size ((zmq_msg_t *) msg);
    if (size == 0)
        printf ("-");
    for (size_t i = 0; i < size; i++)
        printf ("%02x", data[i]);
}

/* Receives one frame into a string (at most cap - 1 octets kept). */
static void recv_string (void *socket, char *buf, size_t cap, int *more)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    check (zmq_msg_recv (&msg, socket, 0), "zmq_msg_recv");
    size_t size = zmq_msg_size (&msg);
    if (size >= cap)
        size = cap - 1;
    memcpy (buf, zmq_msg_data (&msg), size);
    buf[size] = 0;
    *more = zmq_msg_more (&msg);
    zmq_msg_close (&msg);
}

static int router_notify (int argc, char **argv)
{
    if (argc != 7) {
        fprintf (stderr, "usage: draft_peer router-notify ENDPOINT bind|connect "
                         "FLAGS MESSAGES TIMEOUT_MS\n");
        return 2;
    }
    const char *endpoint = argv[2];
    int bind = strcmp (argv[3], "bind") == 0;
    int flags = atoi (argv[4]);
    int messages = atoi (argv[5]);
    int timeout = atoi (argv[6]);
    int zero = 0;

    void *ctx = zmq_ctx_new ();
    void *router = zmq_socket (ctx, ZMQ_ROUTER);
    check (zmq_setsockopt (router, ZMQ_ROUTER_NOTIFY, &flags, sizeof flags),
           "ZMQ_ROUTER_NOTIFY");
    check (zmq_setsockopt (router, ZMQ_RCVTIMEO, &timeout, sizeof timeout),
           "ZMQ_RCVTIMEO");
    check (zmq_setsockopt (router, ZMQ_LINGER, &zero, sizeof zero), "ZMQ_LINGER");
    check (bind ? zmq_bind (router, endpoint) : zmq_connect (router, endpoint),
           bind ? "zmq_bind" : "zmq_connect");
    printf ("READY\n");
    fflush (stdout);

    int status = 0;
    for (int n = 0; n < messages; n++) {
        int more = 1;
        for (int frame = 0; more; frame++) {
            zmq_msg_t msg;
            zmq_msg_init (&msg);
            if (zmq_msg_recv (&msg, router, 0) == -1) {
                if (zmq_errno () != EAGAIN)
                    die ("zmq_msg_recv");
                printf ("TIMEOUT\n");
                status = 1;
                goto done;
            }
            if (frame > 0)
                printf (" ");
            print_frame (&msg);
            more = zmq_msg_more (&msg);
            zmq_msg_close (&msg);
        }
        printf ("\n");
        fflush (stdout);
    }
done:
    fflush (stdout);
    zmq_close (router);
    zmq_ctx_term (ctx);
    return status;
}

/* Answers one ZAP request: allowed, user id "user". */
static void answer_zap (void *zap)
{
    char version[16], request_id[256], domain[256], address[256], identity[256],
      mechanism[32], rest[512];
    int more;
    recv_string (zap, version, sizeof version, &more);
    recv_string (zap, request_id, sizeof request_id, &more);
    recv_string (zap, domain, sizeof domain, &more);
    recv_string (zap, address, sizeof address, &more);
    recv_string (zap, identity, sizeof identity, &more);
    recv_string (zap, mechanism, sizeof mechanism, &more);
    while (more)
        recv_string (zap, rest, sizeof rest, &more);
    printf ("ZAP %s %s\n", domain[0] ? domain : "-", mechanism);
    fflush (stdout);
    const char *reply[] = {"1.0", request_id, "200", "OK", "user", ""};
    for (int i = 0; i < 6; i++)
        check (zmq_send (zap, reply[i], strlen (reply[i]), i < 5 ? ZMQ_SNDMORE : 0),
               "zap reply");
}

/* Prints a monitor event; returns 1 if it ends the handshake in failure. */
static int print_event (void *monitor)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    check (zmq_msg_recv (&msg, monitor, 0), "monitor event");
    unsigned short event;
    memcpy (&event, zmq_msg_data (&msg), sizeof event);
    zmq_msg_close (&msg);
    zmq_msg_init (&msg);
    check (zmq_msg_recv (&msg, monitor, 0), "monitor endpoint");
    zmq_msg_close (&msg);
    const char *name;
    int failed = 1;
    switch (event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            name = "HANDSHAKE_SUCCEEDED";
            failed = 0;
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
            name = "HANDSHAKE_FAILED_NO_DETAIL";
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
            name = "HANDSHAKE_FAILED_PROTOCOL";
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            name = "HANDSHAKE_FAILED_AUTH";
            break;
        default:
            return 0;
    }
    printf ("EVENT %s\n", name);
    fflush (stdout);
    return failed;
}

static int zap_server (int argc, char **argv)
{
    if (argc != 8) {
        fprintf (stderr, "usage: draft_peer zap-server null|plain|curve ENDPOINT "
                         "DOMAIN|- ENFORCE HANDLER TIMEOUT_MS\n");
        return 2;
    }
    const char *mechanism = argv[2];
    const char *endpoint = argv[3];
    const char *domain = strcmp (argv[4], "-") == 0 ? "" : argv[4];
    int enforce = atoi (argv[5]);
    int handler = atoi (argv[6]);
    int timeout = atoi (argv[7]);
    int one = 1, zero = 0;

    void *ctx = zmq_ctx_new ();
    void *zap = NULL;
    if (handler) {
        zap = zmq_socket (ctx, ZMQ_REP);
        check (zmq_bind (zap, "inproc://zeromq.zap.01"), "binding the ZAP handler");
    }
    void *server = zmq_socket (ctx, ZMQ_PULL);
    check (zmq_setsockopt (server, ZMQ_LINGER, &zero, sizeof zero), "ZMQ_LINGER");
    check (zmq_setsockopt (server, ZMQ_ZAP_ENFORCE_DOMAIN, &enforce, sizeof enforce),
           "ZMQ_ZAP_ENFORCE_DOMAIN");
    if (domain[0])
        check (zmq_setsockopt (server, ZMQ_ZAP_DOMAIN, domain, strlen (domain)),
               "ZMQ_ZAP_DOMAIN");
    if (strcmp (mechanism, "plain") == 0) {
        check (zmq_setsockopt (server, ZMQ_PLAIN_SERVER, &one, sizeof one),
               "ZMQ_PLAIN_SERVER");
    } else if (strcmp (mechanism, "curve") == 0) {
        const char *secret = getenv ("WEIRMQ_PEER_CURVE_SECRET");
        if (!secret || strlen (secret) != 40) {
            fprintf (stderr, "draft_peer: WEIRMQ_PEER_CURVE_SECRET must hold a Z85 key\n");
            return 2;
        }
        check (zmq_setsockopt (server, ZMQ_CURVE_SERVER, &one, sizeof one),
               "ZMQ_CURVE_SERVER");
        check (zmq_setsockopt (server, ZMQ_CURVE_SECRETKEY, secret, 40),
               "ZMQ_CURVE_SECRETKEY");
    } else if (strcmp (mechanism, "null") != 0) {
        fprintf (stderr, "draft_peer: unknown mechanism %s\n", mechanism);
        return 2;
    }
    check (zmq_socket_monitor (server, "inproc://draft-peer-monitor",
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                                 | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                                 | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                                 | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH),
           "zmq_socket_monitor");
    void *monitor = zmq_socket (ctx, ZMQ_PAIR);
    check (zmq_connect (monitor, "inproc://draft-peer-monitor"), "monitor connect");
    check (zmq_bind (server, endpoint), "zmq_bind");
    printf ("READY\n");
    fflush (stdout);

    int status = 1;
    void *clock = zmq_stopwatch_start ();
    for (;;) {
        long left = (long) timeout - (long) (zmq_stopwatch_intermediate (clock) / 1000);
        if (left <= 0) {
            printf ("TIMEOUT\n");
            break;
        }
        zmq_pollitem_t items[3] = {{server, 0, ZMQ_POLLIN, 0},
                                   {monitor, 0, ZMQ_POLLIN, 0},
                                   {zap, 0, ZMQ_POLLIN, 0}};
        check (zmq_poll (items, zap ? 3 : 2, left), "zmq_poll");
        if (items[2].revents & ZMQ_POLLIN)
            answer_zap (zap);
        if ((items[1].revents & ZMQ_POLLIN) && print_event (monitor)) {
            status = 0;
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            char text[256];
            int more;
            recv_string (server, text, sizeof text, &more);
            printf ("RECV %s\n", text);
            status = 0;
            break;
        }
    }
    fflush (stdout);
    zmq_stopwatch_stop (clock);
    zmq_socket_monitor (server, NULL, 0);
    zmq_close (monitor);
    zmq_close (server);
    if (zap)
        zmq_close (zap);
    zmq_ctx_term (ctx);
    return status;
}

int main (int argc, char **argv)
{
    if (argc >= 2 && strcmp (argv[1], "router-notify") == 0)
        return router_notify (argc, argv);
    if (argc >= 2 && strcmp (argv[1], "zap-server") == 0)
        return zap_server (argc, argv);
    fprintf (stderr, "usage: draft_peer router-notify|zap-server ...\n");
    return 2;
}
