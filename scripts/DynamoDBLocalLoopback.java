// Starts Amazon's DynamoDB Local exactly as its own main() would, but with its Jetty connector
// bound to 127.0.0.1 instead of every interface (DynamoDB Local has no option for the host).
// Run as a single-file source program:
//   java -Djava.library.path=<dir>/DynamoDBLocal_lib -cp '<dir>/DynamoDBLocal.jar:<dir>/DynamoDBLocal_lib/*' \
//        scripts/DynamoDBLocalLoopback.java -inMemory -sharedDb -disableTelemetry -port N
import java.lang.reflect.Field;

import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class DynamoDBLocalLoopback {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Object server = field.get(proxy);
        Object[] connectors = (Object[]) server.getClass().getMethod("getConnectors").invoke(server);
        for (Object connector : connectors) {
            connector.getClass().getMethod("setHost", String.class).invoke(connector, "127.0.0.1");
        }
        proxy.start();
        System.out.println("DynamoDB Local listening on 127.0.0.1 only");
        proxy.join();
    }
}
