# The Fleiss (1993) examples' study data, read in place from R meta's RevMan file
# (../shared/data/revman/Fleiss1993.rm5, GPL >= 2; never copied into this repository), for the
# reference scripts that source this file from the repository root.
suppressPackageStartupMessages(library(xml2))
fleiss_rm5 <- read_xml("../shared/data/revman/Fleiss1993.rm5")
fleiss_name <- function(id) xml_attr(xml_find_first(fleiss_rm5, sprintf("//STUDY[@ID='%s']", id)), "NAME")
fleiss_rows <- function(tag, no) {
  rows <- xml_find_all(fleiss_rm5, sprintf("//%s_OUTCOME[@NO='%d']/%s_DATA", tag, no, tag))
  a <- function(name) as.numeric(xml_attr(rows, name))
  ids <- xml_attr(rows, "STUDY_ID")
  if (tag == "DICH") {
    data.frame(study = vapply(ids, fleiss_name, ""), ai = a("EVENTS_1"), n1i = a("TOTAL_1"), ci = a("EVENTS_2"),
               n2i = a("TOTAL_2"), row.names = NULL)
  } else {
    data.frame(study = vapply(ids, fleiss_name, ""), n1i = a("TOTAL_1"), m1i = a("MEAN_1"), sd1i = a("SD_1"),
               n2i = a("TOTAL_2"), m2i = a("MEAN_2"), sd2i = a("SD_2"), row.names = NULL)
  }
}
aspirin <- fleiss_rows("DICH", 1)   # analysis 1.1: aspirin after myocardial infarction, 2x2 counts
mental <- fleiss_rows("CONT", 2)    # analysis 1.2: mental health treatment, means and SDs
