// Drives the types openapi-typescript generated from generated/openapi/services/*.json through
// openapi-fetch, compiled with tsc --strict: every answer is its own service's type, no cast.
// Usage: node drive.js BASE_URL USERNAME PASSWORD MADONVI MATTHC
import createClient from "openapi-fetch";
import type { paths as DossierPaths } from "./DongBoHoSoMC.js";
import type { paths as ProgressPaths } from "./CapNhatTienDoHoSoMC.js";
import type { paths as ProcedurePaths } from "./LayThuTuc.js";
import type { paths as QuestionPaths } from "./LayDanhSachHoiDapBoCoQuan.js";
import { dossiers, steps } from "./data.js";

function arg(index: number): string {
  const value = process.argv[2 + index];
  if (value === undefined) throw new Error("usage: node drive.js BASE_URL USERNAME PASSWORD MADONVI MATTHC");
  return value;
}
const [baseUrl, username, password, madonvi, code] = [arg(0), arg(1), arg(2), arg(3), arg(4)];

async function main(): Promise<void> {
  const said: Record<string, unknown> = {};
  const dossier = createClient<DossierPaths>({ baseUrl });
  const login = await dossier.POST("/auth", { body: { username, password } });
  const session = login.data?.session;
  if (login.data?.error_code !== "0" || session === undefined) throw new Error(`login ${login.response.status}`);

  const body = { session, madonvi, service: "DongBoHoSoMC" as const, isUpdating: "False" as const, data: dossiers };
  const pushed = await dossier.POST("/integration", { body });
  if (!pushed.data) throw new Error(`push ${pushed.response.status}`);
  said.push = pushed.data.error_code;
  const again = await dossier.POST("/integration", { body });
  if (!again.data) throw new Error(`again ${again.response.status}`);
  said.again = [again.data.error_code, (again.data.result ?? []).map((refused) => refused.MaHoSo)];

  const progress = createClient<ProgressPaths>({ baseUrl });
  const stepped = await progress.POST("/integration", {
    body: { session, madonvi, service: "CapNhatTienDoHoSoMC", data: steps },
  });
  if (!stepped.data) throw new Error(`progress ${stepped.response.status}`);
  said.progress = stepped.data.error_code;

  const procedures = createClient<ProcedurePaths>({ baseUrl });
  const procedure = await procedures.POST("/integration", {
    body: { session, madonvi, service: "LayThuTuc", maTTHC: code },
  });
  if (!procedure.data) throw new Error(`procedure ${procedure.response.status}`);
  const found = procedure.data.result ?? [];
  said.procedure = [procedure.data.error_code, found.map((p) => p.MATTHC), found.map((p) => p.TENTTHC)];

  const questions = createClient<QuestionPaths>({ baseUrl });
  const listed = await questions.POST("/integration", {
    body: { session, madonvi, service: "LayDanhSachHoiDapBoCoQuan" },
  });
  if (!listed.data) throw new Error(`questions ${listed.response.status}`);
  const items = listed.data.result ?? [];
  const units = [...new Set(items.map((q) => q.MADONVI).filter((u): u is string => u !== undefined))].sort();
  said.questions = [listed.data.error_code, items.length, units];
  console.log(JSON.stringify(said));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
