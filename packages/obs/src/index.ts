export const OBS_PACKAGE = "@cph-export/obs";
