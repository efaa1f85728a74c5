// Aegis Sync: starts one OpenSearch 2.19 node from jars on the classpath (no distribution zip).
//
// Compiled by devstack/opensearch.py (javac -cp '<opensearch-libs>/*'), then run as
//   java -Xmx512m -cp '<opensearch-libs>/*:<classes>' AegisOpenSearchNode <path.home>
// <path.home>/config/opensearch.yml and log4j2.properties are written by devstack/opensearch.py.
// The modules a distribution would load from modules/ are passed as classpath plugins instead;
// the security plugin is absent, so HTTP is plain and must stay bound to loopback.

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;

public class AegisOpenSearchNode {

    static final String[] MODULE_PLUGINS = {
        "org.opensearch.transport.Netty4Plugin",
        "org.opensearch.analysis.common.CommonAnalysisPlugin",
        "org.opensearch.index.reindex.ReindexPlugin",
        // optional: present only when its jar is on the classpath
        "org.opensearch.plugin.analysis.nori.AnalysisNoriPlugin",
    };

    static final class ClasspathNode extends Node {
        ClasspathNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    @SuppressWarnings("unchecked")
    static List<Class<? extends Plugin>> modulePlugins() {
        List<Class<? extends Plugin>> plugins = new ArrayList<>();
        for (String name : MODULE_PLUGINS) {
            try {
                plugins.add((Class<? extends Plugin>) Class.forName(name));
            } catch (ClassNotFoundException absent) {
                System.out.println("aegis: plugin not on classpath, skipped: " + name);
            }
        }
        return plugins;
    }

    public static void main(String[] args) throws Exception {
        Path home = Path.of(args[0]).toAbsolutePath();
        Settings input = Settings.builder().put("path.home", home.toString()).build();
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            input, Collections.emptyMap(), home.resolve("config"), () -> "aegis-opensearch");
        LogConfigurator.registerErrorListener();
        LogConfigurator.configure(environment);

        Node node = new ClasspathNode(environment, modulePlugins());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "aegis-opensearch-shutdown"));
        node.start();
        System.out.println("aegis: opensearch node started");
        stopped.await();
    }
}
