// Drives the Java clients openapi-generator (library native) made from generated/openapi/services/*.json:
// every answer is its own service's class, no cast. Run by tests/test_foreign_clients.py.
// Usage: java Drive BASE_URL USERNAME PASSWORD MADONVI DOSSIERS.json MATTHC
import com.fasterxml.jackson.core.type.TypeReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import vn.qcvn120.dongbohosomc.ApiClient;
import vn.qcvn120.dongbohosomc.api.AuthApi;
import vn.qcvn120.dongbohosomc.api.IntegrationApi;
import vn.qcvn120.dongbohosomc.model.DongBoHoSoMCRecord;
import vn.qcvn120.dongbohosomc.model.DongBoHoSoMCRequest;
import vn.qcvn120.dongbohosomc.model.DongBoHoSoMCResponse;
import vn.qcvn120.dongbohosomc.model.LoginRequest;
import vn.qcvn120.dongbohosomc.model.LoginResponse;
import vn.qcvn120.dongbohosomc.model.RefusedRecord;
import vn.qcvn120.dongbohosomc.model.WireFlag;
import vn.qcvn120.laythutuc.model.LayThuTucRequest;
import vn.qcvn120.laythutuc.model.LayThuTucResponse;
import vn.qcvn120.laythutuc.model.LayThuTucResult;

public class Drive {
  public static void main(String[] args) throws Exception {
    String baseUrl = args[0], madonvi = args[3];
    ApiClient client = new ApiClient();
    client.updateBaseUri(baseUrl);
    LoginResponse login = new AuthApi(client).login(new LoginRequest().username(args[1]).password(args[2]));
    String session = login.getSession();

    List<DongBoHoSoMCRecord> records = client.getObjectMapper()
        .readValue(Files.readString(Path.of(args[4])), new TypeReference<List<DongBoHoSoMCRecord>>() {});
    DongBoHoSoMCRequest push = new DongBoHoSoMCRequest()
        .session(session)
        .madonvi(madonvi)
        .service(DongBoHoSoMCRequest.ServiceEnum.DONG_BO_HO_SO_MC)
        .isUpdating(WireFlag.FALSE)
        .data(records);
    IntegrationApi dossiers = new IntegrationApi(client);
    DongBoHoSoMCResponse pushed = dossiers.dongBoHoSoMC(push);
    DongBoHoSoMCResponse again = dossiers.dongBoHoSoMC(push);
    List<String> refused = new ArrayList<>();
    for (RefusedRecord record : again.getResult()) {
      refused.add(record.getMaHoSo());
    }

    vn.qcvn120.laythutuc.ApiClient procedures = new vn.qcvn120.laythutuc.ApiClient();
    procedures.updateBaseUri(baseUrl);
    LayThuTucResponse procedure = new vn.qcvn120.laythutuc.api.IntegrationApi(procedures).layThuTuc(
        new LayThuTucRequest()
            .session(session)
            .madonvi(madonvi)
            .service(LayThuTucRequest.ServiceEnum.LAY_THU_TUC)
            .maTTHC(args[5]));
    List<String> codes = new ArrayList<>();
    List<String> names = new ArrayList<>();
    for (LayThuTucResult found : procedure.getResult()) {
      codes.add(found.getMATTHC());
      names.add(found.getTENTTHC());
    }

    Map<String, Object> said = new LinkedHashMap<>();
    said.put("push", pushed.getErrorCode());
    said.put("again", List.of(again.getErrorCode(), refused));
    said.put("procedure", List.of(procedure.getErrorCode(), codes, names));
    System.out.println(client.getObjectMapper().writeValueAsString(said));
  }
}
