/*
 * The local Trino server's main class: what the release's launcher (trino-server-main, not on Maven Central) does,
 * io.trino.server.Server#start with the version. Compiled once into the jar cache by mesh_dev/local/trino_jars.py;
 * its configuration comes from -Dconfig=<data>/etc/config.properties (see mesh_dev/local/trino_layout.py).
 */
public final class MeshTrinoServer {
    private MeshTrinoServer() {}

    public static void main(String[] args) {
        String version = args.length > 0 ? args[0] : "unknown";
        new io.trino.server.Server().start(version);
    }
}
